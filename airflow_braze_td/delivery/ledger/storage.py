"""The ledger's storage mechanics: whole-object writes, reads, listings and the append journal, on any fsspec
location. The stores (progress, states, claims, dedupe ids, records) build on these and nothing else.

Every object is written whole, so a worker killed mid-write never leaves a half-written record behind: on
a file system under a temporary name, then renamed; on object storage (S3, GCS, Azure Blob) straight to its
name, since an upload only becomes the object when it completes, and there a rename would be a copy and a
delete more per write. The one exception is the journal, where the storage can append (a local disk): a
record is one appended line, and a killed worker leaves at most a torn last line.
"""

from __future__ import annotations

import uuid
from typing import IO, Self

import fsspec
from fsspec.implementations.local import LocalFileSystem

# What a ledger writes at its top level; a location holding none of them holds no ledger.
_RECORDS = frozenset({"files", "open", "state", "ids", "errors", "claims", "quarantine", "discarded", "replays"})
# fsspec protocols whose uploads become visible whole or not at all (S3 PUT or multipart completion, GCS
# upload finalisation, Azure block-list commit, the in-memory filesystem's commit on close).
_WHOLE_UPLOAD_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "memory"})


class LedgerNotWritableError(OSError):
    """The ledger location cannot be written: nothing could be recorded, so nothing is delivered."""


class LedgerStorage:
    """One fsspec location and the ways the ledger reads and writes it."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self._made: set[str] = set()
        self._appendable = isinstance(fs, LocalFileSystem)
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self._uploads_whole = not protocols.isdisjoint(_WHOLE_UPLOAD_PROTOCOLS)
        self._journals: dict[str, IO[bytes]] = {}

    @classmethod
    def from_url(cls, url: str, **storage_options: object) -> Self:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
        return cls(fs, root)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    def _path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def _write(self, path: str, data: bytes) -> None:
        """Write one object whole: straight to its name where uploads are whole, else by a rename."""
        folder = path.rsplit("/", 1)[0]
        try:
            if folder not in self._made:
                self.fs.makedirs(folder, exist_ok=True)
                self._made.add(folder)
            if self._uploads_whole:
                with self.fs.open(path, "wb") as out:
                    out.write(data)
                return
            temporary = f"{path}.tmp-{uuid.uuid4().hex}"
            with self.fs.open(temporary, "wb") as out:
                out.write(data)
            self.fs.mv(temporary, path)
        except OSError as error:
            raise self._not_writable(error) from error

    def _not_writable(self, error: OSError) -> LedgerNotWritableError:
        return LedgerNotWritableError(f"cannot write the delivery ledger at {self.root}: {error}")

    def _remove(self, path: str) -> None:
        try:
            self.fs.rm(path)
        except FileNotFoundError:
            pass

    def _read(self, path: str) -> bytes | None:
        try:
            with self.fs.open(path, "rb") as stream:
                return stream.read()
        except FileNotFoundError:
            return None

    def _list(self, folder: str) -> list[str]:
        """Names in one flat folder, read fresh (object-store filesystems cache listings by default)."""
        try:
            found = self.fs.ls(self._path(folder), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return [path for path in found if ".tmp-" not in path]

    def _find(self, prefix: str) -> list[str]:
        path = self._path(prefix)
        try:
            return [found for found in self.fs.find(path) if ".tmp-" not in found]
        except FileNotFoundError:
            return []

    def exists(self) -> bool:
        """Whether anything was ever recorded here; if not, nothing was delivered yet or the URL is wrong."""
        try:
            found = self.fs.ls(self.root, detail=False, refresh=True)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return any(path.rstrip("/").rsplit("/", 1)[-1] in _RECORDS for path in found)

    def check_writable(self) -> None:
        """Fail before any delivery when the ledger cannot record it."""
        probe = self._path("probe", uuid.uuid4().hex)
        self._write(probe, b"{}")
        self.fs.rm(probe)

    # the append journal: where the storage can append (a local disk), a record is one line

    def _journal_open(self, path: str) -> bool:
        return path in self._journals

    def _append(self, path: str, line: bytes) -> None:
        """Append one line to the journal at `path`, kept open until `close_journals`."""
        try:
            journal = self._journals.get(path)
            if journal is None:
                journal = self._journals[path] = self.fs.open(path, "ab")
            journal.write(line + b"\n")
            journal.flush()
        except OSError as error:
            raise self._not_writable(error) from error

    def close_journals(self) -> None:
        """Close the open journals (their lines stay until their owner drops them)."""
        while self._journals:
            self._journals.popitem()[1].close()

    def _drop_journal(self, path: str) -> None:
        journal = self._journals.pop(path, None)
        if journal is not None:
            journal.close()
        self._remove(path)
