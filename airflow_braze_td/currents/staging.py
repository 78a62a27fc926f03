"""A staging area: one storage prefix holding Braze Currents exports, on any fsspec filesystem.

Listing uses the storage's own recursive listing (`fs.find(detail=True)`) once per event type folder, after
an `ls` of each folder above them, with no per-file requests, so it stays fast over prefixes of 100,000
objects. One call per folder rather than one for the whole prefix bounds the listing's peak memory (storage
details weigh about 1 KB per file, more than the files parsed from them, and the allocator keeps what a peak
took), and lets a mapped task skip the folders of other tasks' event types.

Reading fetches ahead: Braze stages thousands of small files an hour, each a GET of tens of milliseconds on
object storage, so while one file is decoded the next ones (up to `READ_AHEAD_FILES`, `READ_AHEAD_BYTES`)
are already being fetched whole, on threads (s3fs, gcsfs and adlfs run them concurrently on their event
loop). A local disk is read in the reading thread, without read-ahead: it answers in microseconds, and a
thread handoff per file (context switches, and the GIL passed back and forth) cost more than it hid. A
fetched Avro file is decoded by the columnar reader (`columns`); a file too big to hold is streamed through
fastavro when its turn comes, as is a file the columnar reader refuses.
"""

from __future__ import annotations

import io
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import IO

import fsspec
import pendulum
from fsspec.implementations.local import LocalFileSystem

from airflow_braze_td.currents.decode import AVRO_MAGIC, BadEvent, iter_events
from airflow_braze_td.currents.events import EventColumns, EventTypeSelector, expand_blocks
from airflow_braze_td.currents.layout import StagedFile, folder_event_type, parse_key

log = logging.getLogger(__name__)

# How many folder levels under the prefix a listing walks before it lists what is left whole: enough to
# reach Braze's `event_type=` folders under a prefix such as `bucket/currents/dataexport.<...>/`.
_WALKED_DEPTH = 3
# Files fetched ahead of the one being decoded, and the most bytes they may hold.
READ_AHEAD_FILES = 64
READ_AHEAD_BYTES = 32 << 20


class StagingNotFoundError(FileNotFoundError):
    """The staging URL does not exist or is not a folder."""


@dataclass
class Listing:
    """Every object under the prefix: the parsed files, and the keys that match no Braze layout."""

    files: list[StagedFile]
    unmatched: list[str] = field(default_factory=list)

    def select(
        self,
        event_types: EventTypeSelector | Iterable[str] | None = None,
        since: pendulum.DateTime | None = None,
        until: pendulum.DateTime | None = None,
    ) -> list[StagedFile]:
        """Files of the selected event types whose queue hour is in `[since, until)`, in queue-hour order."""
        selector = event_types if isinstance(event_types, EventTypeSelector) else EventTypeSelector(event_types)
        chosen = [
            staged
            for staged in self.files
            if selector(staged.event_type)
            and (since is None or staged.queue_hour >= since)
            and (until is None or staged.queue_hour < until)
        ]
        return sorted(chosen, key=lambda staged: staged.sort_key)


class StagingArea:
    """Lists and reads one staging prefix; the filesystem carries the credentials.

    `read_ahead_files`: how many files `read_ahead` fetches ahead by default; `READ_AHEAD_FILES`, or none on a
    local disk."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, read_ahead_files: int | None = None) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        if read_ahead_files is None:
            read_ahead_files = 0 if isinstance(fs, LocalFileSystem) else READ_AHEAD_FILES
        if read_ahead_files < 0:
            raise ValueError(f"read_ahead_files must be 0 or more, not {read_ahead_files}")
        self.read_ahead_files = read_ahead_files

    @classmethod
    def from_url(cls, url: str, **storage_options: object) -> StagingArea:
        """A staging area from a URL or bare local path, with fsspec's default credentials."""
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
        return cls(fs, root)

    def __repr__(self) -> str:
        return f"StagingArea({self.url_of('')!r})"

    def url_of(self, key: str) -> str:
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{protocol}://{self.root}/{key}" if key else f"{protocol}://{self.root}"

    def list(self, event_types: EventTypeSelector | None = None) -> Listing:
        """Parse every object under the prefix (of `event_types` only, when given: a mapped task keeps just
        its share of a big prefix); report the ones that match no layout."""
        if not self.fs.exists(self.root):
            raise StagingNotFoundError(f"staging prefix {self.url_of('')} does not exist")
        if not self.fs.isdir(self.root):
            raise StagingNotFoundError(f"staging prefix {self.url_of('')} is a file, not a folder")
        files: list[StagedFile] = []
        unmatched: list[str] = []
        prefix = self.root + "/"
        choosing = event_types is not None and bool(event_types.patterns)
        for found in self._folder_listings(event_types if choosing else None):
            # Each info dict is dropped as soon as it is parsed: together they weigh more than the files
            # parsed from them.
            while found:
                path, info = found.popitem()
                if info.get("type") == "directory":
                    continue
                key = path[len(prefix):] if path.startswith(prefix) else path
                staged = parse_key(key, size=int(info.get("size") or 0), etag=_etag(info), mtime=_mtime(info))
                if staged is None:
                    unmatched.append(key)
                elif not choosing or event_types(staged.event_type):
                    files.append(staged)
        unmatched.sort()
        if unmatched:
            log.warning(
                "%d object(s) under %s match no Braze Currents key layout and are not delivered, e.g. %s",
                len(unmatched),
                self.url_of(""),
                ", ".join(unmatched[:5]),
            )
        files.sort(key=lambda staged: staged.sort_key)
        return Listing(files, unmatched)

    def _folder_listings(self, event_types: EventTypeSelector | None) -> Iterator[dict[str, dict]]:
        """Every object under the prefix, as `{path: info}` parts. The folders above the layouts' `name=value`
        folders (such as `event_type=`) are walked with `ls`, at most `_WALKED_DEPTH` levels deep; each folder
        below is listed whole with one recursive `find`, except an `event_type=` folder that `event_types`
        leaves out, which is not listed at all."""
        folders = [(self.root, 0)]
        while folders:
            folder, depth = folders.pop()
            name = folder.rsplit("/", 1)[-1]
            folder_type = folder_event_type(name) if event_types is not None else None
            if folder_type is not None and not event_types(folder_type):
                continue
            if depth == _WALKED_DEPTH or "=" in name:
                yield self.fs.find(folder, detail=True)
                continue
            objects = {}
            # refresh: object stores cache `ls` per instance, and a sensor or trigger lists again in one process
            for info in self.fs.ls(folder, detail=True, refresh=True):
                path = info["name"].rstrip("/")
                if info.get("type") == "directory":
                    if path != folder:
                        folders.append((path, depth + 1))
                else:
                    objects[path] = info
            yield objects

    def reading_pool(self) -> ThreadPoolExecutor:
        """A pool for `read_ahead` sized to `read_ahead_files` (on a local disk it starts no thread)."""
        return ThreadPoolExecutor(max(1, self.read_ahead_files), thread_name_prefix="staging-read")

    def read_ahead(
        self, files: Sequence[StagedFile], pool: ThreadPoolExecutor, max_files: int | None = None,
        max_bytes: int = READ_AHEAD_BYTES,
    ) -> Iterator[tuple[StagedFile, FileEvents]]:
        """Each of `files` with its events, in order, while up to `max_files` (default: `read_ahead_files`) next
        ones are fetched on `pool` (holding at most `max_bytes`). A file's events must be read before the next
        file is asked for. With `max_files` 0, each file up to `max_bytes` is fetched whole when it is read."""
        if max_files is None:
            max_files = self.read_ahead_files
        if max_files == 0:
            for staged in files:
                fetch = partial(self.fs.cat_file, self._path(staged)) if staged.size <= max_bytes else None
                yield staged, self._file_events(staged, fetch)
            return
        ahead: deque[tuple[StagedFile, Future[bytes] | None]] = deque()
        position = held = 0
        while position < len(files) or ahead:
            while position < len(files) and len(ahead) < max_files:
                staged = files[position]
                if staged.size > max_bytes:
                    ahead.append((staged, None))
                elif held + staged.size <= max_bytes or not ahead:
                    ahead.append((staged, pool.submit(self.fs.cat_file, self._path(staged))))
                    held += staged.size
                else:
                    break
                position += 1
            staged, fetched = ahead.popleft()
            if fetched is None:
                yield staged, self._file_events(staged, None)
            else:
                held -= staged.size
                yield staged, self._file_events(staged, fetched.result)

    def _file_events(self, staged: StagedFile, fetch: Callable[[], bytes] | None) -> FileEvents:
        """`staged`'s events from `fetch` (its whole bytes), or streamed from storage when there is none."""
        return FileEvents(staged, fetch, partial(self._open, staged))

    def _path(self, staged: StagedFile) -> str:
        return f"{self.root}/{staged.key}"

    def _open(self, staged: StagedFile) -> IO[bytes]:
        return self.fs.open(self._path(staged), "rb")

    def iter_events(self, staged: StagedFile) -> Iterator[dict | BadEvent]:
        """Stream one file's normalised events (and `BadEvent`s) through fastavro, never loading it whole."""
        with self._open(staged) as stream:
            yield from iter_events(stream, staged.key, event_type=staged.event_type, fmt=staged.format)


COLUMNAR, FASTAVRO, JSON = "columnar", "fastavro", "json"


class FileEvents:
    """One staged file's events, read when iterated (as events, or as `parts`). Then `reader` says which reader
    read them (`COLUMNAR`, `FASTAVRO` or `JSON`) and, for every Avro file fastavro read, `refusal` says why the
    columnar reader did not.

    `fetch` returns the file's bytes (fetched ahead; a failed fetch raises here, where opening the file
    would have); without it the file is streamed from `open_stream`.
    """

    def __init__(self, staged: StagedFile, fetch: Callable[[], bytes] | None,
                 open_stream: Callable[[], IO[bytes]]) -> None:
        self.staged = staged
        self._fetch = fetch
        self._open_stream = open_stream
        self.reader: str | None = None
        self.refusal: str | None = None

    def __iter__(self) -> Iterator[dict | BadEvent]:
        return expand_blocks(self.parts())

    def parts(self) -> Iterator[EventColumns | dict | BadEvent]:
        """The file's events as the reader gives them: `EventColumns` blocks from the columnar reader, single
        events from fastavro or JSON, and a `BadEvent` for each record that is not an event."""
        staged = self.staged
        if self._fetch is None:
            self.reader = FASTAVRO if staged.format == "avro" else JSON
            if self.reader == FASTAVRO:
                self.refusal = f"over the read-ahead's {READ_AHEAD_BYTES >> 20} MB: streamed"
            with self._open_stream() as stream:
                yield from iter_events(stream, staged.key, event_type=staged.event_type, fmt=staged.format)
            return
        data = self._fetch()
        avro = data[:4] == AVRO_MAGIC or staged.format == "avro"
        if avro:
            # Imported here, not with the module: DAG files import the hooks, and a DAG processor parsing them
            # should not pay Polars' import (about 0.3 s).
            from airflow_braze_td.currents.columns import ColumnarRefusal, columnar_blocks

            found = columnar_blocks(data, staged.event_type)
            if not isinstance(found, ColumnarRefusal):
                self.reader = COLUMNAR
                yield from found
                return
            self.refusal = str(found)
        self.reader = FASTAVRO if avro else JSON
        yield from iter_events(io.BytesIO(data), staged.key, event_type=staged.event_type, fmt=staged.format)


def _etag(info: dict) -> str | None:
    value = info.get("ETag") or info.get("etag") or info.get("md5Hash")
    return str(value).strip('"') if value else None


def _mtime(info: dict) -> float | None:
    value = info.get("mtime") or info.get("LastModified") or info.get("updated") or info.get("last_modified")
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return pendulum.parse(value).timestamp()
    return float(value)
