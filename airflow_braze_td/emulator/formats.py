"""Encodings of stored request bodies.

Bodies are kept as received (one blob per request) and decoded only when someone inspects them, so
the write path stays cheap enough for million-row benchmarks.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import msgpack
import orjson

POSTBACK = "postback"  # one JSON object: one row
MSGPACK_GZ = "msgpack.gz"  # gzip of concatenated msgpack maps: one row per map
JSON_ROWS = "json_rows"  # a JSON array of objects: one row per element


class BodyError(ValueError):
    """The body cannot be decoded in its declared format."""


def msgpack_gz_rows(body: bytes) -> list[dict[Any, Any]]:
    """Decode an Import API body; raises BodyError on bad gzip, bad msgpack or a non-map row."""
    try:
        data = gzip.decompress(body) if body else b""
    except (OSError, EOFError, zlib.error) as error:
        raise BodyError(f"body is not valid gzip: {error}") from error
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    rows: list[dict[Any, Any]] = []
    end_of_last_row = 0
    try:
        for row in unpacker:
            if not isinstance(row, dict):
                raise BodyError(f"row {len(rows)} is a {type(row).__name__}, not a msgpack map")
            rows.append(row)
            end_of_last_row = unpacker.tell()
    except (ValueError, msgpack.UnpackException) as error:
        raise BodyError(f"body is not valid msgpack: {error}") from error
    if end_of_last_row != len(data):
        raise BodyError("body ends with a truncated msgpack value")
    return rows


def decode_rows(body_format: str, body: bytes) -> list[dict[Any, Any]]:
    """The rows a stored body holds."""
    if body_format == POSTBACK:
        return [orjson.loads(body)]
    if body_format == MSGPACK_GZ:
        return msgpack_gz_rows(body)
    if body_format == JSON_ROWS:
        return orjson.loads(body)
    raise ValueError(f"unknown body format {body_format!r}")
