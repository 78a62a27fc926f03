"""Braze Currents object keys: the three known layouts, and the typed `StagedFile` they parse into.

Braze warns that naming may change, so a key that matches no layout is reported by the caller (counted
and logged), never silently ignored.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import pendulum

from airflow_braze_td.currents.catalog import EVENT_TYPES
from airflow_braze_td.currents.events import canonical_event_type
from airflow_braze_td.identities import staged_file_identity

_CONNECTOR = r"(?:S3|AzureBlob|GCS)"
_EVENT_TYPE_FOLDER = "event_type="
_FILE_EXTENSIONS = r"avro|json|json\.gz|ndjson|ndjson\.gz|jsonl|jsonl\.gz"

# One pattern for the three layouts: the `version=<n>/<environment>` segment pair (current), the bare
# `<schema-id>/<zone>` pair (older), and names without a cluster segment (oldest).
_KEY = re.compile(
    rf"""
    (?:^|/)dataexport\.(?:(?P<cluster>[^./]+)\.)?{_CONNECTOR}\.integration\.(?P<integration>[A-Za-z0-9]+)/
    event_type=(?P<event_type>[^/]+)/
    date=(?P<date>\d{{4}}-\d{{2}}-\d{{2}}-\d{{2}})/
    (?:version=(?P<version>[^/]+)/(?P<environment>[^/]+)/|(?P<schema_id>[^/=]+)/(?P<zone>[^/=]+)/)?
    dataexport\.(?:[^./]+\.)?{_CONNECTOR}\.integration\.[A-Za-z0-9]+\+(?P<partition>\d+)\+(?P<offset>\d+)
    \.(?P<extension>{_FILE_EXTENSIONS})$
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True, init=False, repr=False)
class StagedFile:
    """One staged object, as the listing found it.

    A listing holds one per staged file (tens of thousands), so it is slotted and shares what files repeat:
    `parse_key` shares its small strings, and the key is kept in two parts: a head shared by the dozens of
    files of a folder (an event type's hour), and the file's own tail, a few characters such as `3+123.avro`
    of a key of about 200. `identity` and `queue_hour_timestamp` are computed once here, because the
    delivery path reads them for every file, several times.
    """

    # The key up to and including the first "+" of its file name (`<connector prefix>+<partition>+<offset>`,
    # so the same for every file of a folder), shared, and the rest: `key` joins them.
    _head: str
    _tail: str
    event_type: str
    queue_hour: pendulum.DateTime
    layout: str
    schema_version: str | None
    environment: str | None
    partition: int
    offset: int
    size: int
    etag: str | None
    mtime: float | None
    # Stable id of this exact object: key plus size and etag, so a rewritten object is noticed.
    identity: str = field(compare=False)
    # `queue_hour` in UTC seconds (pendulum computes `int_timestamp` anew on every access).
    queue_hour_timestamp: int = field(compare=False)

    def __init__(
        self,
        key: str,
        event_type: str,
        queue_hour: pendulum.DateTime,
        layout: str,
        schema_version: str | None,
        environment: str | None,
        partition: int,
        offset: int,
        size: int,
        etag: str | None = None,
        mtime: float | None = None,
    ) -> None:
        name_start = key.rfind("/") + 1
        cut = key.find("+", name_start) + 1 or name_start
        values = {
            "_head": sys.intern(key[:cut]),
            "_tail": key[cut:],
            "event_type": event_type,
            "queue_hour": queue_hour,
            "layout": layout,
            "schema_version": schema_version,
            "environment": environment,
            "partition": partition,
            "offset": offset,
            "size": size,
            "etag": etag,
            "mtime": mtime,
            "identity": staged_file_identity(key, size, etag),
            "queue_hour_timestamp": _hour_timestamp(queue_hour),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        """The key whole, then the parsed fields."""
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _REPR_FIELDS)
        return f"StagedFile({shown})"

    @property
    def key(self) -> str:
        """The object's key, relative to the staging root."""
        return self._head + self._tail

    @property
    def format(self) -> str:
        """`avro` or `json`: how `decode.iter_events` reads the file."""
        return format_of_name(self._tail)

    @property
    def sort_key(self) -> tuple:
        """Canonical order of listings: queue hour, then event type, partition and offset (the delivery reorders
        by day and event type: `delivery.pipeline.delivery_order`). Made of the parts the file already holds:
        a listing sorts tens of thousands of files, and joining each key anew cost it a third of its memory."""
        return (self.queue_hour_timestamp, self.event_type, self.partition, self.offset, self._head, self._tail)

    def to_dict(self) -> dict:
        """Plain JSON values, for XCom and mapped task arguments."""
        return {
            "key": self.key,
            "event_type": self.event_type,
            "queue_hour": self.queue_hour.isoformat(),
            "layout": self.layout,
            "schema_version": self.schema_version,
            "environment": self.environment,
            "partition": self.partition,
            "offset": self.offset,
            "size": self.size,
            "etag": self.etag,
            "mtime": self.mtime,
        }

    @classmethod
    def from_dict(cls, value: dict) -> StagedFile:
        return cls(**{**value, "queue_hour": pendulum.parse(value["queue_hour"])})


_REPR_FIELDS = ("key", "event_type", "queue_hour", "layout", "schema_version", "environment", "partition", "offset",
                "size", "etag", "mtime")


def format_of_name(name: str) -> str:
    """`avro` or `json`, as a staged file's name says (its first bytes, read by `decode.iter_events`, decide first)."""
    return "avro" if name.endswith(".avro") else "json"


def folder_event_type(name: str) -> str | None:
    """The event type of an `event_type=<type>` folder, read as `parse_key` reads it from a key; None for any
    other folder. A listing for some event types uses it to skip the folders of the others."""
    if not name.startswith(_EVENT_TYPE_FOLDER):
        return None
    return canonical_event_type(name[len(_EVENT_TYPE_FOLDER):])


def parse_key(key: str, *, size: int = 0, etag: str | None = None, mtime: float | None = None) -> StagedFile | None:
    """Parse a key relative to the staging root; None when it matches no known layout."""
    match = _KEY.search(key)
    if match is None:
        return None
    fields = match.groupdict()
    if fields["version"] is not None:
        layout, schema_version, environment = "current", fields["version"], fields["environment"]
    elif fields["schema_id"] is not None:
        layout, schema_version, environment = "legacy", fields["schema_id"], fields["zone"]
    else:
        layout, schema_version, environment = "oldest", None, None
    if fields["cluster"] is None:
        layout = "oldest"
    queue_hour = _queue_hour(fields["date"])
    if queue_hour is None:
        return None
    return StagedFile(
        key=key,
        event_type=sys.intern(canonical_event_type(fields["event_type"])),
        queue_hour=queue_hour,
        layout=layout,
        schema_version=_shared(schema_version),
        environment=_shared(environment),
        partition=int(fields["partition"]),
        offset=int(fields["offset"]),
        size=size,
        etag=etag,
        mtime=mtime,
    )


def unknown_event_types(event_types: Iterable[str]) -> list[str]:
    """The `event_types` that the catalog (Braze's schema version 10) does not list, sorted and distinct.

    Braze adds event types without notice. Their files are delivered like any other (refusing them would
    lose the events once Braze's window closes); naming them lets someone check their tables and filters.
    """
    return sorted(set(event_types) - _KNOWN_EVENT_TYPES)


_KNOWN_EVENT_TYPES = frozenset(EVENT_TYPES)


@lru_cache(maxsize=65_536)
def _queue_hour(date: str) -> pendulum.DateTime | None:
    """`YYYY-MM-DD-HH` (already matched by `_KEY`) as a UTC hour; None for an impossible date.

    Cached: a prefix of 100,000 files spans a few hundred hours, and parsing dominated the listing.
    """
    try:
        return pendulum.datetime(int(date[0:4]), int(date[5:7]), int(date[8:10]), int(date[11:13]), tz="UTC")
    except ValueError:
        return None


@lru_cache(maxsize=65_536)
def _hour_timestamp(queue_hour: pendulum.DateTime) -> int:
    """Cached like `_queue_hour`, so the files of one hour share one int."""
    return queue_hour.int_timestamp


def _shared(value: str | None) -> str | None:
    """One string object for a value that thousands of files repeat (a schema version, an environment)."""
    return None if value is None else sys.intern(value)


def staged_key(
    *,
    event_type: str,
    queue_hour: pendulum.DateTime,
    partition: int,
    offset: int,
    cluster: str = "prod-01",
    connector: str = "S3",
    integration_id: str = "5f1e0c9d8b7a6f5e4d3c2b1a",
    version: int = 10,
    environment: str = "us-01",
    extension: str = "avro",
) -> str:
    """The key Braze's current storage export writes for one file (used by the sample generator)."""
    directory = f"dataexport.{cluster}.{connector}.integration.{integration_id}"
    return (
        f"{directory}/event_type={event_type}/date={queue_hour.format('YYYY-MM-DD-HH')}/"
        f"version={version}/{environment}/{directory}+{partition}+{offset}.{extension}"
    )
