"""The request and response shapes the endpoint handlers trade, independent of the HTTP plumbing."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import orjson

JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


@dataclass
class Request:
    method: str
    path: str  # slashes collapsed, no query string
    query: dict[str, str]
    query_string: str  # as received, for the (redacted) request log
    headers: Message
    body: bytes
    fail_records: frozenset[int] = frozenset()  # Data Ingestion records an injected fault fails


@dataclass
class Response:
    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    note: str | None = None  # why a request was accepted yet not stored, for the request log


def _bytes_as_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(value: Any) -> bytes:
    """orjson, tolerant of msgpack's binary values and non-string keys in imported rows."""
    return orjson.dumps(value, default=_bytes_as_text, option=JSON_OPTIONS)


def json_response(status: int, value: Any, **headers: str) -> Response:
    return Response(status, to_json(value), dict(headers))


def error(status: int, name: str, message: str) -> Response:
    return Response(status, orjson.dumps({"error": name, "message": message}))
