"""Helpers shared by the Treasure Data tests (a module of its own so test modules can import it)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import requests

from airflow_braze_td.delivery.batching import Batch
from airflow_braze_td.delivery.sink import SendResult, Sink
from airflow_braze_td.treasure_data.client import TDClient
from airflow_braze_td.treasure_data.endpoints import Endpoints
from airflow_braze_td.treasure_data.retry import RetryPolicy

KEY = "4242/" + "0123456789abcdef" * 2 + "01234567"
WRITE_KEY = "4242/" + "feedface" * 5
OTHER_KEY = "7777/" + "c" * 40
# Backoff in milliseconds so the whole folder stays fast; Retry-After is still honoured in full.
FAST_RETRY = RetryPolicy(initial_wait=0.001, max_wait=0.01, max_total_seconds=30.0)


def make_event(number: int, event_type: str = "users.messages.email.Open", **properties: Any) -> dict:
    """A normalised Custom HTTP event, as the currents normaliser produces it."""
    return {
        "event_type": event_type,
        "id": f"evt-{number:06d}",
        "time": 1_764_500_000 + number,
        "user": {"user_id": f"u{number}", "external_user_id": f"ext{number}", "timezone": "Europe/Paris"},
        "properties": {"campaign_name": "spring", "send_id": f"s{number}", **properties},
    }


def batches_of(sink: Sink, events: Iterable[dict]) -> list[Batch]:
    """Encode and batch `events` the way the delivery pipeline does."""
    batcher = sink.batcher()
    batches: list[Batch] = []
    for event in events:
        route, item = sink.encode(event)
        batches.extend(batcher.add(route, item, event))
    batches.extend(batcher.flush())
    return batches


def deliver(sink: Sink, events: Iterable[dict]) -> list[SendResult]:
    return [sink.send(batch) for batch in batches_of(sink, events)]


def client_for(url: str, session: requests.Session, key: str = KEY, **kwargs: Any) -> TDClient:
    """A client on one emulator (or echo server) with the fast test retry policy."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("timeout", (2.0, 5.0))
    return TDClient(session, Endpoints.for_region(host=url), key, **kwargs)


class EchoServer:
    """A plain HTTP server that records each request (headers included) and answers a fixed JSON body."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.seen: list[dict[str, Any]] = []
        body = orjson.dumps(reply)
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                     "body": self.rfile.read(length)}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
