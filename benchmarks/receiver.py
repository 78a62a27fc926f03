"""A minimal HTTP receiver: reads each request's body and answers `200 {}`; it checks and stores nothing.

The emulator parses headers with the email package, validates every body and stores it, so on a 2-core
machine it takes CPU the sinks need; a measurement of the sinks' own cost and of their scale-out uses this
receiver as well. It speaks just enough HTTP/1.1 for `requests`: keep-alive and `Content-Length` bodies
(a chunked request is answered 411 and closed). It binds 127.0.0.1 only, prints its URL on the first line,
and on SIGTERM (or after `--max-seconds`) prints `{"requests": ..., "body_bytes": ...}` and exits. With
`--latency-ms` each answer is sent that long after its request, as TD over the internet answers, without
holding the other connections.

    python benchmarks/receiver.py [--max-seconds 1800] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
_LENGTH_REQUIRED = b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)
_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a head, then `Content-Length` bytes of body, then the answer; repeat."""

    def __init__(self, counts: dict[str, int], latency: float = 0.0) -> None:
        self.counts = counts
        self.latency = latency
        self.pending = b""
        self.body_left = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.pending + data if self.pending else data
        while buffer:
            if self.body_left:
                if len(buffer) < self.body_left:
                    self.body_left -= len(buffer)
                    buffer = b""
                    break
                buffer = buffer[self.body_left:]
                self.body_left = 0
                self._answer()
                continue
            end = buffer.find(_HEAD_END)
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    self._refuse()
                    return
                break
            head, buffer = buffer[:end], buffer[end + len(_HEAD_END):]
            if _CHUNKED.search(head):
                self._refuse()
                return
            length = _CONTENT_LENGTH.search(head)
            self.body_left = int(length.group(1)) if length else 0
            self.counts["requests"] += 1
            self.counts["body_bytes"] += self.body_left
            if not self.body_left:
                self._answer()
        self.pending = buffer

    def _answer(self) -> None:
        assert self.transport is not None
        if self.latency:
            asyncio.get_running_loop().call_later(self.latency, self.transport.write, _OK)
        else:
            self.transport.write(_OK)

    def _refuse(self) -> None:
        assert self.transport is not None
        self.transport.write(_LENGTH_REQUIRED)
        self.transport.close()
        self.pending = b""


async def serve(max_seconds: float, latency: float = 0.0) -> dict[str, int]:
    counts = {"requests": 0, "body_bytes": 0}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(counts, latency), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"minimal receiver on http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), max_seconds)
    except TimeoutError:
        pass
    server.close()
    return counts


class ReceiverProcess:
    """`receiver.py` in a child process: `url` to send to, `stop()` for its counts."""

    def __init__(self, max_seconds: float = 1800.0, latency: float = 0.0) -> None:
        self.popen = subprocess.Popen([sys.executable, str(Path(__file__)), "--max-seconds", str(max_seconds),
                                       "--latency-ms", str(latency * 1000)], stdout=subprocess.PIPE, text=True)
        assert self.popen.stdout is not None
        banner = self.popen.stdout.readline()
        found = re.search(r"http://\S+", banner)
        if found is None:
            self.popen.kill()
            raise RuntimeError(f"the receiver did not start: {banner!r}")
        self.url = found.group(0)
        self.pid = self.popen.pid

    def stop(self) -> dict[str, int]:
        self.popen.terminate()
        out, _ = self.popen.communicate(timeout=10)
        return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="exit by itself after this long")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="answer each request this long after it")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(serve(args.max_seconds, args.latency_ms / 1000))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
