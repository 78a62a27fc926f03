"""Streaming readers for staged files: Avro object container files and staged Custom HTTP bodies.

Every reader yields normalised events (the one shape of `events.py`) and never loads an Avro file whole.
A fault raises `CorruptFileError` naming the file and how far reading got; the events before the
fault have already been yielded, so the caller can deliver them and quarantine the rest.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from functools import lru_cache
from typing import IO

import fastavro
import orjson

from airflow_braze_td.currents.events import InvalidEvent, RecordNormaliser, canonical_event_type, normalise_http_event

_GZIP_MAGIC = b"\x1f\x8b"
AVRO_MAGIC = b"Obj\x01"
_READ_BUFFER = 1 << 20


class CorruptFileError(Exception):
    """A staged file that cannot be read to its end."""

    def __init__(self, name: str, reason: str, *, record_index: int, line: int | None = None) -> None:
        self.name = name
        self.reason = reason
        self.record_index = record_index
        self.line = line
        where = f"line {line}, " if line is not None else ""
        super().__init__(f"{name}: {reason} ({where}after {record_index} records read)")


class BadEvent(Exception):
    """One record that is not a valid event; reading goes on past it."""

    def __init__(self, record_index: int, reason: str, record: object) -> None:
        self.record_index = record_index
        self.reason = reason
        self.record = record
        super().__init__(f"record {record_index}: {reason}")


def schema_event_type(schema: dict) -> str | None:
    """The event type named by an Avro writer schema (`dataexport.S3.inner.users.messages.email.Open`)."""
    name = schema.get("name", "")
    namespace = schema.get("namespace")
    full = f"{namespace}.{name}" if namespace and "." not in name else name
    marker = ".inner."
    return canonical_event_type(full.split(marker, 1)[1]) if marker in full else None


def iter_events(
    stream: IO[bytes], name: str, *, event_type: str | None = None, fmt: str | None = None
) -> Iterator[dict | BadEvent]:
    """Yield the normalised events of one staged file, in file order.

    A record that cannot become an event is yielded as a `BadEvent` (to be quarantined) rather than
    stopping the file. `fmt` (`avro` or `json`) is what the file's name says; the first bytes decide
    before it: a file starting with the Avro magic is read as Avro whatever its name, and one named
    `.avro` without the magic is reported as not Avro rather than as broken JSON.
    """
    head = stream.read(4)
    if stream.seekable():
        stream.seek(0)
    else:
        stream = io.BufferedReader(_Rewound(head, stream), _READ_BUFFER)
    if head == AVRO_MAGIC:
        fmt = "avro"
    if fmt == "avro":
        return _iter_avro(stream, name, event_type, head)
    return _iter_json(stream, name, event_type, gzipped=head[:2] == _GZIP_MAGIC)


def _iter_avro(stream: IO[bytes], name: str, event_type: str | None, head: bytes) -> Iterator[dict | BadEvent]:
    if head != AVRO_MAGIC:
        reason = "empty file: no Avro header" if not head else (
            f"not an Avro file: it starts with {head!r}, where Avro files start with {AVRO_MAGIC!r}")
        raise CorruptFileError(name, reason, record_index=0)
    index = 0
    try:
        reader = fastavro.reader(stream)
        normalise = _normaliser_for(reader.metadata.get("avro.schema", ""), event_type)
        if isinstance(normalise, str):
            raise CorruptFileError(name, normalise, record_index=0)
        for record in reader:
            try:
                yield normalise(record)
            except InvalidEvent as error:
                yield BadEvent(index, str(error), record)
            index += 1
    except CorruptFileError:
        raise
    except (EOFError, ValueError, TypeError, OSError, StopIteration, fastavro.read.SchemaResolutionError) as error:
        reason = "truncated file" if isinstance(error, EOFError) else f"corrupt Avro data: {error}"
        if index == 0 and not isinstance(error, EOFError):
            reason = f"not a readable Avro file: {error}"
        raise CorruptFileError(name, reason, record_index=index) from error


@lru_cache(maxsize=1024)
def _normaliser_for(schema_json: str, event_type: str | None) -> RecordNormaliser | str:
    """The normaliser for files of one writer schema, or why such files cannot be read.

    Braze writes thousands of small files an hour with a few dozen schemas, so the plan is made once per
    schema text, not once per file.
    """
    schema = orjson.loads(schema_json) if schema_json else {}
    if not isinstance(schema, dict):
        return "the Avro writer schema is not a record: not a Braze Currents file"
    record_type = event_type or schema_event_type(schema)
    if record_type is None:
        return "no event type in the key or the Avro schema"
    field_names = [field["name"] for field in schema.get("fields", ())]
    missing = {"id", "time"}.difference(field_names)
    if missing:
        return f"Avro schema lacks required field(s) {sorted(missing)}: not a Braze Currents file"
    return RecordNormaliser(field_names, record_type, _float32_fields(schema))


def _float32_fields(schema: dict) -> frozenset[str]:
    """Fields typed Avro `float` (alone or in a union), whose values need float32 rounding."""

    def is_float(kind: object) -> bool:
        if isinstance(kind, list):
            return any(is_float(member) for member in kind)
        if isinstance(kind, dict):
            return kind.get("type") == "float"
        return kind == "float"

    return frozenset(field["name"] for field in schema.get("fields", ()) if is_float(field["type"]))


def _iter_json(stream: IO[bytes], name: str, event_type: str | None, *, gzipped: bool) -> Iterator[dict | BadEvent]:
    """Newline-delimited JSON, or one (possibly pretty-printed) document; each an envelope or a bare event."""
    text: IO[bytes] = gzip.GzipFile(fileobj=stream) if gzipped else stream
    index = 0
    line_number = 0
    try:
        first = _next_content_line(text)
        if first is None:
            raise CorruptFileError(name, "empty file: no JSON document", record_index=0)
        line_number = first[0]
        try:
            documents: Iterator[tuple[int, object]] = _chain_first((first[0], orjson.loads(first[1])), text, first[0])
        except orjson.JSONDecodeError:
            whole = first[1] + text.read()
            try:
                documents = iter([(first[0], orjson.loads(whole))])
            except orjson.JSONDecodeError as error:
                raise CorruptFileError(name, f"invalid JSON: {error}", record_index=0, line=first[0]) from error
        for line_number, document in documents:
            for event in _events_of(document, name, line_number, index):
                if isinstance(event, BadEvent):
                    yield event
                else:
                    try:
                        yield normalise_http_event(event, event_type)
                    except InvalidEvent as error:
                        yield BadEvent(index, str(error), event)
                index += 1
    except _BadLine as error:
        raise CorruptFileError(name, f"invalid JSON: {error.reason}", record_index=index, line=error.line) from None
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise CorruptFileError(name, f"unreadable gzip data: {error}", record_index=index, line=line_number) from error


class _BadLine(Exception):
    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason


def _next_content_line(text: IO[bytes]) -> tuple[int, bytes] | None:
    for number, line in enumerate(text, start=1):
        if line.strip():
            return number, line
    return None


def _chain_first(first: tuple[int, object], text: IO[bytes], first_line: int) -> Iterator[tuple[int, object]]:
    yield first
    for number, line in enumerate(text, start=first_line + 1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise _BadLine(number, str(error)) from None


def _events_of(document: object, name: str, line: int, index: int) -> Iterator[object]:
    """An envelope's events, or the bare event itself."""
    if isinstance(document, dict) and "events" in document and "id" not in document:
        events = document["events"]
        if not isinstance(events, list):
            raise CorruptFileError(
                name, f"`events` is a {type(events).__name__}, not a list", record_index=index, line=line
            )
        yield from events
    elif isinstance(document, dict) and ("id" in document or "event_type" in document):
        yield document
    elif isinstance(document, dict):
        raise CorruptFileError(
            name, "JSON object is neither an `{\"events\": [...]}` envelope nor an event", record_index=index, line=line
        )
    else:
        yield BadEvent(index, f"JSON value is a {type(document).__name__}, not an event object", document)


class _Rewound(io.RawIOBase):
    """A stream with its sniffed first bytes put back in front, without seeking (object stores may not seek)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        chunk = self._rest.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)
