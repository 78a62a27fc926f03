"""The emulator in a child process, for tests and benchmarks that must not share a GIL with it."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from types import TracebackType

_URL_IN_BANNER = re.compile(r"http://\S+")
_START_TIMEOUT_SECONDS = 15.0
_STOP_TIMEOUT_SECONDS = 10.0


class EmulatorProcess:
    """A running `python -m airflow_braze_td.emulator`; stop() ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, popen: subprocess.Popen[str], url: str) -> None:
        self.popen = popen
        self.url = url

    @property
    def pid(self) -> int:
        return self.popen.pid

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def start_emulator_process(
    store: str = ":memory:",
    port: int = 0,
    api_keys: Iterable[str] = (),
    write_keys: Iterable[str] = (),
    strict_postback: bool = False,
    visibility_delay: float = 0.0,
    host: str = "127.0.0.1",
    latency: float = 0.0,
) -> EmulatorProcess:
    """Start the emulator in a subprocess and return once its health endpoint answers."""
    command = [sys.executable, "-m", "airflow_braze_td.emulator", "--host", host, "--port", str(port), "--store", store]
    command += [arg for key in api_keys for arg in ("--api-key", key)]
    command += [arg for key in write_keys for arg in ("--write-key", key)]
    if strict_postback:
        command.append("--strict-postback")
    if visibility_delay:
        command += ["--visibility-delay", str(visibility_delay)]
    if latency:
        command += ["--latency-ms", str(latency * 1000)]
    popen = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    process = EmulatorProcess(popen, "")
    try:
        process.url = _read_url(popen)
        _wait_healthy(process.url, popen)
    except BaseException:
        process.stop()
        raise
    return process


def _read_url(popen: subprocess.Popen[str]) -> str:
    """The URL from the child's first stdout line (so port=0 works), read with a deadline."""
    assert popen.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(popen.stdout.readline()), daemon=True)
    reader.start()
    reader.join(_START_TIMEOUT_SECONDS)
    found = _URL_IN_BANNER.search(lines[0]) if lines else None
    if found is None:
        raise RuntimeError(f"emulator did not announce its URL (exit code {popen.poll()}, output {lines!r})")
    return found.group(0)


def _wait_healthy(url: str, popen: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"emulator exited with code {popen.returncode} while starting")
        try:
            with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1.0) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"emulator at {url} did not become healthy within {_START_TIMEOUT_SECONDS} s")
