"""The delivery ledger: the only state that outlives a task try.

It lives at any fsspec location (a local folder for the demo, shared object storage for several
workers) and holds, per staged file (keyed by `StagedFile.identity`: key plus size and etag):

    files/<bundle>.json            progress of a bundle (one file, or consecutive small files delivered as
                                   one): batches acknowledged (a watermark), counts, generation, members
    files/<bundle>.acks            on a local disk, the acknowledgements since that object: one line each
    open/<bundle>.json             a bundle of several files being delivered, so any run resumes it whole
    state/<event type>/<bundle>.bundle      the states of a finished bundle's files (one event type), with
                                   their generation
    state/<event type>/<identity>.<state>   `delivered` or `quarantined` set for one file (requeue)
    ids/<event type>/<hour>/<bundle>.hids   64-bit hashes of the ids a bundle's files handed to Treasure Data,
                                   per file, for dedupe across runs and the count of distinct ids delivered
    errors/<name>.json             the last error that stopped a delivery (bad key, missing table), one per
                                   destination and event-type group, until a delivery of those types succeeds
    claims/<owner>-<token>.json    a claim on a set of files with an expiry, so two runs never deliver one
                                   file twice
    quarantine/<identity>/<name>.json   rejected events and unreadable files, with their reasons
    discarded/<name>.json          quarantine records a person dropped with `braze-td requeue --discard`
    replays/<generation>.json      what a deliberate replay covered

Every object is written whole, so a worker killed mid-write never leaves a half-written record behind: on
a file system under a temporary name, then renamed; on object storage (S3, GCS, Azure Blob) straight to its
name, since an upload only becomes the object when it completes, and there a rename would be a copy and a
delete more per write. The one exception is the acknowledgement journal: a postback records every
acknowledged batch before the next is sent, and rewriting the progress object each time cost a tenth of
the delivery's time on a local disk, so there an acknowledgement is one appended line (a killed worker
leaves at most a torn last line, which is ignored: that batch is sent again). Object storage cannot
append, so there the object is rewritten. Storage operations are counted per bundle, not per file: a claim, a marker,
the progress after acknowledged batches, and one state and a few ids objects when the bundle finishes,
because each costs a round trip on object storage (and an inode on a local disk).
"""

from __future__ import annotations

import random
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import fsspec
import msgpack
import numpy as np
import orjson
from fsspec.implementations.local import LocalFileSystem

from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.delivery.filters import sorted_hashes
from airflow_braze_td.identities import discard_record_name, error_record_name, owner_key

DELIVERED = "delivered"
QUARANTINED = "quarantined"
FIRST_GENERATION = "0"
# Tries of a claim that a rival contested at the same moment (see `Ledger.claim_files`).
CLAIM_ATTEMPTS = 3
_BUNDLE_STATE = "bundle"
_BUNDLE_IDS = ".hids"
_ACKS = ".acks"
DEDUPE_REPORT_HOURS = 120
"""Hours of ids `dedupe_report` reads: Braze retries a write for at most 5 days (S3, GCS), so every copy it
stages again lies within them."""
# What a ledger writes at its top level (the layout above); a location holding none of them holds no ledger.
_RECORDS = frozenset({"files", "open", "state", "ids", "errors", "claims", "quarantine", "discarded", "replays"})
# fsspec protocols whose uploads become visible whole or not at all (S3 PUT or multipart completion, GCS
# upload finalisation, Azure block-list commit, the in-memory filesystem's commit on close).
_WHOLE_UPLOAD_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "memory"})


class LedgerNotWritableError(OSError):
    """The ledger location cannot be written: nothing could be recorded, so nothing is delivered."""


@dataclass
class FileProgress:
    """What the ledger knows of one staged file."""

    key: str
    size: int
    etag: str | None
    event_type: str
    queue_hour: str
    fingerprint: str
    generation: str = FIRST_GENERATION
    batches_acked: int = 0
    finished: bool = False
    counts: dict = field(default_factory=dict)
    error: str | None = None
    updated: float = 0.0
    members: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class FileState:
    """A finished file's state, and the generation that finished it (None when a person set it)."""

    state: str
    generation: str | None = None


@dataclass(frozen=True)
class Claim:
    owner: str
    written: float
    expires: float
    identities: tuple[str, ...] = ()


class Ledger:
    """Claims, progress, state, dedupe ids and quarantine, on one fsspec location."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self._made: set[str] = set()
        # Finished bundles' states, read once per object: identity -> (when the bundle finished, state).
        self._indexed: set[str] = set()
        self._bundle_index: dict[str, tuple[float, FileState]] = {}
        self._appendable = isinstance(fs, LocalFileSystem)
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self._uploads_whole = not protocols.isdisjoint(_WHOLE_UPLOAD_PROTOCOLS)
        self._journals: dict[str, IO[bytes]] = {}

    @classmethod
    def from_url(cls, url: str, **storage_options: object) -> Ledger:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
        return cls(fs, root)

    def __repr__(self) -> str:
        return f"Ledger({self.root!r})"

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

    # progress and state

    def progress(self, staged: StagedFile) -> FileProgress | None:
        return self.bundle_progress(staged.identity)

    def bundle_progress(self, bundle: str) -> FileProgress | None:
        """Progress of a bundle; a bundle of one file is named by the file's identity."""
        data = self._read(self._path("files", f"{bundle}.json"))
        if not data:
            return None
        progress = FileProgress(**orjson.loads(data))
        latest = self._last_ack(bundle) if self._appendable else None
        if latest is not None and latest["batches_acked"] > progress.batches_acked:
            progress.batches_acked, progress.counts = latest["batches_acked"], latest["counts"]
        return progress

    def save_bundle_progress(self, bundle: str, progress: FileProgress) -> None:
        """Write the progress object whole; it supersedes the bundle's acknowledgement journal."""
        progress.updated = time.time()
        self._write(self._path("files", f"{bundle}.json"), orjson.dumps(progress))
        if self._appendable:
            self._drop_journal(bundle)

    def record_ack(self, bundle: str, progress: FileProgress) -> None:
        """Record the batches acknowledged so far (and the counts) before the next batch is sent."""
        journal = self._journals.get(bundle)
        if journal is None:
            self.save_bundle_progress(bundle, progress)
            if not self._appendable:
                return
            self.close_journals()
        try:
            if journal is None:
                journal = self._journals[bundle] = self.fs.open(self._path("files", f"{bundle}{_ACKS}"), "ab")
            journal.write(orjson.dumps({"batches_acked": progress.batches_acked, "counts": progress.counts}) + b"\n")
            journal.flush()
        except OSError as error:
            raise self._not_writable(error) from error

    def close_journals(self) -> None:
        """Close the open acknowledgement journals (their lines stay until the progress object is written)."""
        while self._journals:
            self._journals.popitem()[1].close()

    def _drop_journal(self, bundle: str) -> None:
        journal = self._journals.pop(bundle, None)
        if journal is not None:
            journal.close()
        self._remove(self._path("files", f"{bundle}{_ACKS}"))

    def _last_ack(self, bundle: str) -> dict | None:
        """The journal's last complete line; a torn last line (a worker killed mid-write) is ignored."""
        data = self._read(self._path("files", f"{bundle}{_ACKS}"))
        for line in reversed((data or b"").splitlines()):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("batches_acked"), int):
                return record
        return None

    def states(self) -> dict[str, str]:
        """identity -> `delivered` or `quarantined`, from one listing (plus one read per finished bundle)."""
        return {identity: found.state for identity, found in self.file_states().items()}

    def file_states(
        self, identities: Iterable[str] | None = None, event_type: str | None = None
    ) -> dict[str, FileState]:
        """identity -> state and generation, of every file or of `identities` (files of `event_type`). A state a
        person set for one file (requeue) wins over its bundle's; of two bundles, the later one wins (a replay).

        Asked for a few identities (the files just claimed), it lists the names in their event type's folder
        only and reads only the bundles finished since the last call, so checking each bundle before
        delivering it stays cheap however many bundles the ledger holds.
        """
        wanted = None if identities is None else set(identities)
        if wanted is not None and event_type is None:
            raise ValueError("file_states needs the event type of the identities it is asked for")
        paths = self._find("state") if wanted is None else self._list(f"state/{event_type}")
        indexed = self._indexed
        marked: dict[str, str] = {}
        for path in paths:
            if path in indexed:
                continue
            identity, _, state = path.rsplit("/", 1)[1].partition(".")
            if state == _BUNDLE_STATE:
                data = self._read(path)
                if data:
                    self._index_bundle(path, orjson.loads(data))
            elif state == QUARANTINED or identity not in marked:
                marked[identity] = state
        index = self._bundle_index
        found = {identity: hit[1] for identity in (index if wanted is None else wanted)
                 if (hit := index.get(identity)) is not None}
        found.update((identity, FileState(state)) for identity, state in marked.items()
                     if wanted is None or identity in wanted)
        return found

    def finish_times(self) -> dict[str, float]:
        """identity -> when its bundle finished (Unix time), for every file `file_states()` has read; files a
        person set a state for (requeue) have none."""
        return {identity: finished for identity, (finished, _) in self._bundle_index.items()}

    def delivered_events_since(self, since: float,
                               event_types: Callable[[str], bool] | None = None) -> list[tuple[float, int]]:
        """(when, events accepted) of each bundle finished at or after `since` (Unix time), for the lag page's
        events per hour: one listing of the progress objects and one batch of reads."""
        paths = [path for path in self._list("files") if path.endswith(".json")]
        finished = []
        for data in (self.fs.cat(paths, on_error="omit").values() if paths else ()):
            progress = orjson.loads(data) if data else {}
            if not progress.get("finished") or progress.get("updated", 0.0) < since:
                continue
            if event_types is not None and not event_types(progress["event_type"]):
                continue
            counts = progress.get("counts") or {}
            finished.append((progress["updated"], counts.get("sent", 0) + counts.get("already_acknowledged", 0)))
        return finished

    def _index_bundle(self, path: str, record: dict) -> None:
        """Index a finished bundle's files. The index holds every finished file of the staging prefix, so
        the files of one bundle share one entry per state rather than one each."""
        self._indexed.add(path)
        updated, generation = record["updated"], record["generation"]
        shared = {state: (updated, FileState(state, generation)) for state in set(record["files"].values())}
        index = self._bundle_index
        for identity, state in record["files"].items():
            known = index.get(identity)
            if known is None or known[0] <= updated:
                index[identity] = shared[state]

    def finish_bundle(self, bundle: str, event_type: str, generation: str, states: dict[str, str],
                      replaced: Iterable[str] = ()) -> None:
        """Record the states of a finished bundle's files (all of `event_type`) in one object, then drop the
        superseded per-file states (`replaced` identities) and the bundle's open marker."""
        record = {"updated": time.time(), "generation": generation, "files": states}
        path = self._path("state", event_type, f"{bundle}.{_BUNDLE_STATE}")
        self._write(path, orjson.dumps(record))
        self._index_bundle(path, record)
        for identity in replaced:
            for state in (DELIVERED, QUARANTINED):
                self._remove(self._path("state", event_type, f"{identity}.{state}"))
        self._remove(self._path("open", f"{bundle}.json"))

    # bundles of several files in progress

    def open_bundle(self, bundle: str, details: dict) -> None:
        """Mark a bundle of several files as started, with its files, so any later run resumes it whole."""
        self._write(self._path("open", f"{bundle}.json"), orjson.dumps(details))

    def open_bundles(self) -> Iterator[tuple[str, dict]]:
        """Bundles started and not finished (usually none), with what `open_bundle` recorded."""
        for path in self._find("open"):
            data = self._read(path)
            if data:
                yield path.rsplit("/", 1)[1].removesuffix(".json"), orjson.loads(data)

    def close_bundle(self, bundle: str) -> None:
        self._remove(self._path("open", f"{bundle}.json"))

    def set_state(self, staged: StagedFile, state: str) -> None:
        for other in (DELIVERED, QUARANTINED):
            path = self._path("state", staged.event_type, f"{staged.identity}.{other}")
            if other != state and self.fs.exists(path):
                self.fs.rm(path)
        self._write(self._path("state", staged.event_type, f"{staged.identity}.{state}"), staged.key.encode())

    # dedupe ids of finished files

    def save_bundle_ids(self, bundle: str, ids: dict[tuple[str, int], dict[str, array]]) -> None:
        """Id hashes of a bundle's files: one object per event type and queue hour, each file's hashes under its
        identity as little-endian 64-bit words in msgpack (8 bytes an id, read without a step per id)."""
        for (event_type, hour), by_file in ids.items():
            body = msgpack.packb({identity: np.frombuffer(hashes, dtype=np.uint64).astype("<u8").tobytes()
                                  for identity, hashes in by_file.items()})
            self._write(self._path("ids", event_type, str(hour), f"{bundle}{_BUNDLE_IDS}"), body)

    def load_id_hashes(self, event_type: str, hour: int, exclude: frozenset[str] = frozenset()) -> array:
        """Id hashes of finished files of one event type and queue hour, sorted, but for the `exclude`d
        identities: one listing of the hour and one batch of reads (fetched at once on object storage)."""
        paths = [path for path in self._list(f"ids/{event_type}/{hour}") if path.endswith(_BUNDLE_IDS)]
        found = [hashes for data in (self.fs.cat(paths, on_error="omit").values() if paths else ())
                 for identity, hashes in msgpack.unpackb(data).items() if identity not in exclude]
        return sorted_hashes(b"".join(found))

    def id_hours(self, event_type: str) -> set[int]:
        """The queue hours (Unix hours) of which the ledger holds ids of `event_type`: one listing."""
        return {int(name) for path in self._list(f"ids/{event_type}")
                if (name := path.rstrip("/").rsplit("/", 1)[1]).isdigit()}

    def id_event_types(self) -> list[str]:
        return sorted(path.rstrip("/").rsplit("/", 1)[1] for path in self._list("ids"))

    def dedupe_report(self, window_hours: int, event_types: Callable[[str], bool] | None = None,
                      report_hours: int = DEDUPE_REPORT_HOURS) -> dict:
        """Events delivered against distinct ids delivered, per event type and in all, over each type's last
        `report_hours` queue hours: a difference is a duplicate that got through (its copies further apart than
        the dedupe window). Also the ids a delivery's window holds now (the `window_hours` before each type's
        newest hour). Reads each ids object of those hours once; holds 8 bytes per id of one event type."""
        by_type = {}
        for event_type in self.id_event_types():
            if event_types is not None and not event_types(event_type):
                continue
            hours = self.id_hours(event_type)
            newest = max(hours, default=0)
            loaded = {hour: self.load_id_hashes(event_type, hour) for hour in hours if hour >= newest - report_hours}
            delivered = sum(map(len, loaded.values()))
            in_window = sum(len(hashes) for hour, hashes in loaded.items() if hour >= newest - window_hours)
            distinct = len(np.unique(np.frombuffer(b"".join(loaded.values()), dtype=np.uint64)))
            by_type[event_type] = {"events_delivered": delivered, "distinct_ids": distinct,
                                   "duplicates_delivered": delivered - distinct, "ids_in_window": in_window}
        totals = {name: sum(row[name] for row in by_type.values())
                  for name in ("events_delivered", "distinct_ids", "duplicates_delivered", "ids_in_window")}
        return {"window_hours": window_hours, "report_hours": report_hours, **totals, "by_event_type": by_type}

    # claims

    def claim_files(self, files: list[StagedFile], owner: str, ttl: float) -> tuple[list[StagedFile], str | None]:
        """Claim files before working on them: the ones claimed, and the token that `release_claim` takes.

        Works on storage without conditional writes: write our claim, then list every claim; files that
        another owner claimed too are withdrawn from ours, so two owners can never both proceed. Two racing
        owners may both withdraw a file: two runs started together on the same plan do so bundle after
        bundle (seen with two overlapping scheduled runs on S3: 56 of 72 files left to the next run). So a
        contested claim is dropped whole and tried again after a random pause, up to `CLAIM_ATTEMPTS` times,
        by when one owner holds the files or the last attempt withdraws them (they wait for the next run).
        Retries of the same task share an owner, so a killed try's claims are taken over at once. One claim
        object covers all the files.
        """
        for attempt in range(1, CLAIM_ATTEMPTS + 1):
            held = self._held_elsewhere(owner)
            wanted = [staged for staged in files if staged.identity not in held]
            if not wanted:
                return [], None
            token = f"{owner_key(owner)}-{uuid.uuid4().hex[:16]}"
            now = time.time()
            self._write_claim(token, Claim(owner, now, now + ttl, tuple(staged.identity for staged in wanted)))
            held = self._held_elsewhere(owner)
            claimed = [staged for staged in wanted if staged.identity not in held]
            if len(claimed) == len(wanted):
                return claimed, token
            if attempt == CLAIM_ATTEMPTS and claimed:
                self._write_claim(token, Claim(owner, now, now + ttl, tuple(staged.identity for staged in claimed)))
                return claimed, token
            self.release_claim(token)
            if attempt < CLAIM_ATTEMPTS:
                time.sleep(random.uniform(0.1, 1.0) * attempt)
        return [], None

    def _write_claim(self, token: str, claim: Claim) -> None:
        self._write(self._path("claims", f"{token}.json"), orjson.dumps(claim))

    def _claims(self, skip_owner: str | None = None) -> Iterator[tuple[str, Claim]]:
        """Every claim object with its path (but `skip_owner`'s, known by name); expired ones are removed on the
        way."""
        now = time.time()
        skipped = f"{owner_key(skip_owner)}-" if skip_owner is not None else None
        for path in self._list("claims"):
            if skipped is not None and path.rsplit("/", 1)[1].startswith(skipped):
                continue
            data = self._read(path)
            if not data:
                continue
            record = orjson.loads(data)
            claim = Claim(**{**record, "identities": tuple(record["identities"])})
            if claim.expires <= now:
                self._remove(path)
                continue
            yield path, claim

    def _held_elsewhere(self, owner: str) -> set[str]:
        """Identities other owners claim; this owner's own claim objects are not even read."""
        return {identity for _, claim in self._claims(owner) if claim.owner != owner for identity in claim.identities}

    def release_claim(self, token: str | None) -> None:
        """Drop one claim object (from `claim_files`)."""
        if token:
            self._remove(self._path("claims", f"{token}.json"))

    # quarantine

    def quarantine(self, staged: StagedFile, name: str, record: dict) -> None:
        """Keep rejected events or an unreadable file's details, with the reason, for `requeue`."""
        body = {"key": staged.key, "identity": staged.identity, "staged": staged.to_dict(), **record}
        try:
            data = orjson.dumps(body, default=_jsonable)
        except orjson.JSONEncodeError as error:
            body["events"] = [_encodable(entry, error) for entry in body.get("events", ())]
            data = orjson.dumps(body, default=_jsonable)
        self._write(self._path("quarantine", staged.identity, f"{name}.json"), data)

    def quarantined(self) -> Iterator[tuple[str, dict]]:
        """Every open quarantine record, with its path."""
        for path in sorted(self._find("quarantine")):
            data = self._read(path)
            if data:
                yield path, orjson.loads(data)

    def resolve_quarantine(self, path: str) -> None:
        self.fs.rm(path)

    def record_discard(self, path: str, record: dict) -> None:
        """Keep what a person chose to drop from the quarantine, and when."""
        self._write(self._path("discarded", f"{discard_record_name(path)}.json"),
                    orjson.dumps({"at": time.time(), "path": path, **record}, default=_jsonable))

    # the last delivery error of each delivery and event-type group, for the lag sensor's message

    def record_error(self, message: str, *, destination: str, event_types: Iterable[str] = ()) -> None:
        """Keep `message` as the last error of deliveries to `destination` of `event_types` (empty: every type).

        Mapped deliveries of other event-type groups neither overwrite nor clear it: each group keeps its own.
        """
        self._write_error({"at": time.time(), "message": message, "destination": destination,
                           "event_types": sorted(set(event_types))})

    def _write_error(self, record: dict) -> None:
        name = error_record_name(record["destination"], record["event_types"])
        self._write(self._path("errors", f"{name}.json"), orjson.dumps(record))

    def clear_errors(self, *, destination: str, event_types: Iterable[str] = ()) -> None:
        """A delivery to `destination` of `event_types` (empty: every type) succeeded: those types have no
        current error there any more.

        An error of a group that only partly overlaps keeps its other types (groups are planned anew each
        run); an error recorded for every type is cleared only by a delivery of every type.
        """
        delivered = set(event_types)
        for path, record in self._errors():
            failed = set(record.get("event_types") or ())
            if record.get("destination") != destination or (delivered and (not failed or failed.isdisjoint(delivered))):
                continue
            self._remove(path)
            remaining = failed - delivered if delivered else set()
            if remaining:
                self._write_error({**record, "event_types": sorted(remaining)})

    def last_errors(self) -> list[dict]:
        """The current errors, oldest first: `at`, `message`, `destination` and `event_types` of each."""
        return sorted((record for _, record in self._errors()), key=lambda record: record["at"])

    def _errors(self) -> Iterator[tuple[str, dict]]:
        for path in self._list("errors"):
            data = self._read(path)
            if data:
                yield path, orjson.loads(data)

    # replays

    def record_replay(self, generation: str, details: dict) -> None:
        self._write(self._path("replays", f"{generation}.json"), orjson.dumps(details, default=_jsonable))


def _encodable(entry: dict, error: Exception) -> dict:
    """A quarantine entry JSON cannot hold (nesting too deep): keep its reason and a bounded repr."""
    try:
        orjson.dumps(entry, default=_jsonable)
    except orjson.JSONEncodeError:
        return {**{k: v for k, v in entry.items() if k != "event"}, "event": repr(entry.get("event"))[: 1 << 20],
                "unencodable": str(error)}
    return entry


def _jsonable(value: object) -> object:
    """Quarantined raw records may hold bytes or other non-JSON values: keep them readable."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
