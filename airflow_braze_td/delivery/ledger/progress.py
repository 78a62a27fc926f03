"""The ledger's progress store: how far each bundle got (batches acknowledged, counts), and the bundles of
several files started but not finished, so any run resumes them whole.

    files/<bundle>.json    progress of a bundle (one file, or consecutive small files delivered as one):
                           batches acknowledged (a watermark), counts, generation, members
    files/<bundle>.acks    on a local disk, the acknowledgements since that object: one line each
    open/<bundle>.json     a bundle of several files being delivered

A postback records every acknowledged batch before the next is sent, and rewriting the progress object each
time cost a tenth of the delivery's time on a local disk, so there an acknowledgement is one journal line (a
torn last line is ignored: that batch is sent again). Object storage cannot append, so there the object is
rewritten.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.delivery.ledger.storage import LedgerStorage

FIRST_GENERATION = "0"
_ACKS = ".acks"


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


class ProgressStore(LedgerStorage):
    """Progress per bundle, with the acknowledgement journal; the open-bundle markers."""

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
            self._drop_journal(self._acks_path(bundle))

    def record_ack(self, bundle: str, progress: FileProgress) -> None:
        """Record the batches acknowledged so far (and the counts) before the next batch is sent: one journal
        line where the storage can append, else the progress object rewritten."""
        path = self._acks_path(bundle)
        if not self._journal_open(path):
            self.save_bundle_progress(bundle, progress)
            if not self._appendable:
                return
            self.close_journals()
        self._append(path, orjson.dumps({"batches_acked": progress.batches_acked, "counts": progress.counts}))

    def _acks_path(self, bundle: str) -> str:
        return self._path("files", f"{bundle}{_ACKS}")

    def _last_ack(self, bundle: str) -> dict | None:
        """The journal's last complete line; a torn last line (a worker killed mid-write) is ignored."""
        data = self._read(self._acks_path(bundle))
        for line in reversed((data or b"").splitlines()):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("batches_acked"), int):
                return record
        return None

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
