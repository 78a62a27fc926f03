"""The HTTP side: a keep-alive threading server, the `Emulator` facade and the blocking `serve`."""

from __future__ import annotations

import re
import signal
import socket
import struct
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_braze_td.emulator.admin import ADMIN_PREFIX, handle_admin, stored_event_ids
from airflow_braze_td.emulator.app import EmulatorApp
from airflow_braze_td.emulator.faults import DEFAULT_CHAOS_KINDS, Fault
from airflow_braze_td.emulator.protocol import Request, Response, error

_REPEATED_SLASHES = re.compile(r"/{2,}")
_LINGER_ZERO = struct.pack("ii", 1, 0)
_STOP_GRACE_SECONDS = 2.0
MAX_BODY_BYTES = 256 * 1024 * 1024  # far above any TD limit; only guards the emulator's memory


class _BodyTooLarge(Exception):
    """A declared body so large the emulator will not read it; the connection is dropped after the 413."""


class _BadFraming(Exception):
    """The request body cannot be delimited, so the connection cannot be reused."""


class _Handler(BaseHTTPRequestHandler):
    """Reads a whole request, hands it to the app, writes the answer in one send."""

    protocol_version = "HTTP/1.1"
    server_version = "TDEmulator"
    timeout = 300  # idle keep-alive connections go away eventually
    server: _EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a line per request would cost more than the request. See Emulator.requests()."""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BadFraming as exc:
            self.close_connection = True
            self._send(error(400, "BadRequest", str(exc)))
            return
        except _BodyTooLarge as exc:
            self.close_connection = True
            self._send(error(413, "RequestEntityTooLarge", str(exc)))
            return
        target = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=_REPEATED_SLASHES.sub("/", target.path) or "/",
            query=dict(parse_qsl(target.query, keep_blank_values=True)),
            query_string=target.query,
            headers=self.headers,
            body=body,
        )
        app = self.server.app
        if request.path.startswith(ADMIN_PREFIX):
            self._send(handle_admin(app, request))
            return
        response = app.handle(request)
        if response is None:
            self._reset_connection()
        else:
            self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise _BadFraming(f"bad Content-Length {length!r}") from None
        if size < 0:
            raise _BadFraming(f"bad Content-Length {length!r}")
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge(f"the emulator reads bodies of at most {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(size)
        if len(body) != size:
            raise ConnectionResetError("client closed the connection mid-body")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        received = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadFraming(f"bad chunk size line {line!r}") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the emulator needs
                return b"".join(chunks)
            received += size
            if received > MAX_BODY_BYTES:
                raise _BodyTooLarge(f"the emulator reads bodies of at most {MAX_BODY_BYTES} bytes")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, response: Response) -> None:
        reason = self.responses.get(response.status, ("",))[0]
        head = [
            f"HTTP/1.1 {response.status} {reason}",
            "Content-Type: application/json",
            f"Content-Length: {len(response.body)}",
        ]
        head.extend(f"{name}: {value}" for name, value in response.headers.items())
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)

    def _reset_connection(self) -> None:
        """Close with SO_LINGER 0: the kernel sends an RST, the client sees 'connection reset by peer'."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        self.rfile.close()  # drop the makefile reference so close() really closes the descriptor
        self.connection.close()


class _EmulatorHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so stop() can end idle keep-alive threads instead of leaking them."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_changed = threading.Condition()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_changed:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_changed:
            self._connections.discard(connection)
            self._connections_changed.notify_all()

    def close_connections(self, grace: float) -> None:
        """Shut every open connection down and wait (bounded) for their threads to finish."""
        with self._connections_changed:
            for connection in list(self._connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by its own thread
            self._connections_changed.wait_for(lambda: not self._connections, timeout=grace)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up is routine here (timeouts, resets); anything else is a bug worth printing."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Emulator:
    """A local Treasure Data: every endpoint family on one host, failures on demand. Starts at construction."""

    def __init__(
        self,
        store: str = ":memory:",
        api_keys: Iterable[str] = (),
        write_keys: Iterable[str] = (),
        strict_postback: bool = False,
        visibility_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
    ) -> None:
        self._app = EmulatorApp(store, tuple(api_keys), tuple(write_keys), strict_postback, visibility_delay, latency)
        self._stopped = False
        try:
            self._server = _EmulatorHTTPServer((host, port), self._app)
        except OSError:
            self._app.close()
            raise
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"td-emulator-{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def push_faults(self, *faults: Fault) -> None:
        """Queue faults; each non-admin request takes the first one whose path_prefix it matches."""
        self._app.faults.push(faults)

    def random_faults(
        self,
        rate: float = 0.2,
        kinds: Iterable[str] = DEFAULT_CHAOS_KINDS,
        seed: int | None = None,
        slow_seconds: float = 0.2,
        retry_after: str | int = "1",
    ) -> None:
        """Chaos mode: a random fault of one of `kinds` on `rate` of the requests; rate=0 turns it off."""
        self._app.faults.set_chaos(rate, kinds, seed, slow_seconds, retry_after)

    def fault_counts(self) -> dict[str, int]:
        return self._app.faults.counts()

    def most_delayed_at_once(self) -> int:
        """The most requests that slow faults held at the same moment."""
        return self._app.faults.most_delayed_at_once()

    def clear_faults(self) -> None:
        """Drop queued faults and stop chaos mode, keeping the stored data."""
        self._app.faults.reset()

    def rows(self, db: str, table: str) -> list[dict[Any, Any]]:
        return self._app.store.rows(db, table)

    def event_ids(self, db: str) -> list[list[str]]:
        """Every stored row of `db`'s tables as the event ids it holds (a postback row holds a batch)."""
        return stored_event_ids(self._app.store, db)

    def postback_bodies(self, db: str, table: str) -> list[bytes]:
        return self._app.store.postback_bodies(db, table)

    def count(self, db: str, table: str) -> int:
        return self._app.store.count(db, table)

    def requests(self) -> list[dict[str, Any]]:
        return self._app.log.entries()

    def reset(self) -> None:
        """Forget all data (remembered import ids included), faults and the request log."""
        self._app.reset()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_connections(_STOP_GRACE_SECONDS)
        self._server.server_close()
        self._thread.join()
        self._app.close()


def serve(
    host: str = "127.0.0.1",
    port: int = 8089,
    store: str = ":memory:",
    api_keys: Iterable[str] = (),
    write_keys: Iterable[str] = (),
    strict_postback: bool = False,
    visibility_delay: float = 0.0,
    latency: float = 0.0,
) -> None:
    """Run an emulator until SIGTERM or SIGINT; the first line printed carries its URL."""
    stop_requested = threading.Event()
    with Emulator(store, api_keys, write_keys, strict_postback, visibility_delay, host, port, latency) as emulator:
        print(f"TD emulator listening on {emulator.url}", flush=True)
        previous = _install_stop_handlers(stop_requested)
        try:
            while not stop_requested.wait(0.5):
                pass
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _install_stop_handlers(stop_requested: threading.Event) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, lambda *_: stop_requested.set())
    return previous
