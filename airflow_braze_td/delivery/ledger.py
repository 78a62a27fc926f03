"""The delivery ledger: the only state that outlives a task try.

It lives at any fsspec location (a local folder for the demo, shared object storage for several
workers) and holds, per staged file (keyed by `StagedFile.identity`: key plus size and etag):

    files/<identity>.json          progress: batches acknowledged (a watermark), counts, generation
    state/<identity>.<state>       `delivered` or `quarantined`: one listing gives every file's state
    ids/<event type>/<hour>/<identity>.ids   ids read from a finished file, for dedupe across runs
    last_error.json                the last error that stopped a delivery (bad key, missing table)
    claims/<identity>/<owner>.json a claim with an expiry, so two runs never deliver one file twice
    quarantine/<identity>/<name>.json   rejected events and unreadable files, with their reasons
    discarded/<name>.json          quarantine records a person dropped with `braze-td requeue --discard`
    replays/<generation>.json      what a deliberate replay covered

Every object is written whole (temp name, then rename), so a worker killed mid-write never leaves a
half-written record behind. Progress is written after each acknowledged batch.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import fsspec
import orjson

from airflow_braze_td.currents.layout import StagedFile

DELIVERED = "delivered"
QUARANTINED = "quarantined"
FIRST_GENERATION = "0"


class LedgerNotWritableError(PermissionError):
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


@dataclass(frozen=True)
class Claim:
    owner: str
    written: float
    expires: float


class Ledger:
    """Claims, progress, state, dedupe ids and quarantine, on one fsspec location."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    @classmethod
    def from_url(cls, url: str, **storage_options: object) -> Ledger:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
        return cls(fs, root)

    def __repr__(self) -> str:
        return f"Ledger({self.root!r})"

    def _path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def _write(self, path: str, data: bytes) -> None:
        temporary = f"{path}.tmp-{uuid.uuid4().hex}"
        try:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with self.fs.open(temporary, "wb") as out:
                out.write(data)
            self.fs.mv(temporary, path)
        except PermissionError as error:
            raise LedgerNotWritableError(f"cannot write the delivery ledger at {self.root}: {error}") from error

    def _read(self, path: str) -> bytes | None:
        try:
            with self.fs.open(path, "rb") as stream:
                return stream.read()
        except FileNotFoundError:
            return None

    def _find(self, prefix: str) -> list[str]:
        path = self._path(prefix)
        try:
            return [found for found in self.fs.find(path) if ".tmp-" not in found]
        except FileNotFoundError:
            return []

    def check_writable(self) -> None:
        """Fail before any delivery when the ledger cannot record it."""
        probe = self._path("probe", uuid.uuid4().hex)
        self._write(probe, b"{}")
        self.fs.rm(probe)

    # progress and state

    def progress(self, staged: StagedFile) -> FileProgress | None:
        data = self._read(self._path("files", f"{staged.identity}.json"))
        return FileProgress(**orjson.loads(data)) if data else None

    def save_progress(self, staged: StagedFile, progress: FileProgress) -> None:
        progress.updated = time.time()
        self._write(self._path("files", f"{staged.identity}.json"), orjson.dumps(asdict(progress)))

    def states(self) -> dict[str, str]:
        """identity -> `delivered` or `quarantined`, from one listing (no per-file reads)."""
        found: dict[str, str] = {}
        for path in self._find("state"):
            identity, _, state = path.rsplit("/", 1)[1].partition(".")
            if state == QUARANTINED or identity not in found:
                found[identity] = state
        return found

    def set_state(self, staged: StagedFile, state: str) -> None:
        for other in (DELIVERED, QUARANTINED):
            path = self._path("state", f"{staged.identity}.{other}")
            if other != state and self.fs.exists(path):
                self.fs.rm(path)
        self._write(self._path("state", f"{staged.identity}.{state}"), staged.key.encode())

    # dedupe ids of finished files

    def save_ids(self, staged: StagedFile, ids: Iterable[str]) -> None:
        hour = staged.queue_hour.int_timestamp // 3600
        self._write(self._path("ids", staged.event_type, str(hour), f"{staged.identity}.ids"), "\n".join(ids).encode())

    def load_ids(self, event_type: str, hour: int, exclude: frozenset[str] = frozenset()) -> Iterator[str]:
        """Ids of finished files of one event type and queue hour, but for the `exclude`d identities."""
        for path in self._find(f"ids/{event_type}/{hour}"):
            if path.rsplit("/", 1)[1].removesuffix(".ids") in exclude:
                continue
            data = self._read(path)
            if data:
                yield from data.decode().split("\n")

    # claims

    def claim(self, staged: StagedFile, owner: str, ttl: float) -> bool:
        """Claim a file before working on it; False when another owner holds an unexpired claim.

        Works on storage without conditional writes: write our claim, then list every claim; if any
        other owner's claim is there too, withdraw ours. Two racing owners may both withdraw (the file
        waits for the next run), but two can never both proceed. Retries of the same task share an
        owner, so a killed try's claim is taken over at once.
        """
        owner_key = hashlib.sha256(owner.encode()).hexdigest()[:16]
        now = time.time()
        if any(c.owner != owner for c in self._claims(staged, now)):
            return False
        claim = Claim(owner=owner, written=now, expires=now + ttl)
        self._write(self._path("claims", staged.identity, f"{owner_key}.json"), orjson.dumps(asdict(claim)))
        if any(c.owner != owner for c in self._claims(staged, time.time())):
            self.release(staged, owner)
            return False
        return True

    def _claims(self, staged: StagedFile, now: float) -> list[Claim]:
        claims = []
        for path in self._find(f"claims/{staged.identity}"):
            data = self._read(path)
            if data:
                claim = Claim(**orjson.loads(data))
                if claim.expires > now:
                    claims.append(claim)
        return claims

    def release(self, staged: StagedFile, owner: str) -> None:
        owner_key = hashlib.sha256(owner.encode()).hexdigest()[:16]
        path = self._path("claims", staged.identity, f"{owner_key}.json")
        if self.fs.exists(path):
            self.fs.rm(path)

    # quarantine

    def quarantine(self, staged: StagedFile, name: str, record: dict) -> None:
        """Keep rejected events or an unreadable file's details, with the reason, for `requeue`."""
        body = {"key": staged.key, "identity": staged.identity, "staged": staged.to_dict(), **record}
        self._write(
            self._path("quarantine", staged.identity, f"{name}.json"),
            orjson.dumps(body, default=_jsonable),
        )

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
        name = hashlib.sha256(path.encode()).hexdigest()[:24]
        self._write(self._path("discarded", f"{name}.json"),
                    orjson.dumps({"at": time.time(), "path": path, **record}, default=_jsonable))

    # the last delivery error, for the lag sensor's message

    def record_error(self, message: str) -> None:
        self._write(self._path("last_error.json"), orjson.dumps({"at": time.time(), "message": message}))

    def clear_error(self) -> None:
        if self.fs.exists(self._path("last_error.json")):
            self.fs.rm(self._path("last_error.json"))

    def last_error(self) -> dict | None:
        data = self._read(self._path("last_error.json"))
        return orjson.loads(data) if data else None

    # replays

    def record_replay(self, generation: str, details: dict) -> None:
        self._write(self._path("replays", f"{generation}.json"), orjson.dumps(details, default=_jsonable))


def _jsonable(value: object) -> object:
    """Quarantined raw records may hold bytes or other non-JSON values: keep them readable."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
