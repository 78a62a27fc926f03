"""The delivery ledger: the only state that outlives a task try.

It lives at any fsspec location (a local folder for the demo, shared object storage for several workers) and
holds, per staged file (keyed by `StagedFile.identity`: key plus size and etag), what each store module
describes: progress and open bundles (`progress`), delivered and quarantined states (`states`), dedupe id
hashes (`ids`), claims (`claims`), and quarantine, discards, delivery errors and replays (`records`), all
through one storage (`storage`: whole-object writes and the append journal).

Storage operations are counted per bundle, not per file: a claim, a marker, the progress after acknowledged
batches, and one state and a few ids objects when the bundle finishes, because each costs a round trip on
object storage (and an inode on a local disk).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from airflow_braze_td.delivery.ledger.claims import ClaimStore
from airflow_braze_td.delivery.ledger.ids import IdStore
from airflow_braze_td.delivery.ledger.progress import FIRST_GENERATION, FileProgress, ProgressStore
from airflow_braze_td.delivery.ledger.records import RecordStore
from airflow_braze_td.delivery.ledger.states import DELIVERED, QUARANTINED, FileState, StateStore
from airflow_braze_td.delivery.ledger.storage import LedgerNotWritableError

__all__ = ["DELIVERED", "FIRST_GENERATION", "QUARANTINED", "FileProgress", "FileState", "Ledger",
           "LedgerNotWritableError"]


class Ledger(ProgressStore, StateStore, IdStore, ClaimStore, RecordStore):
    """Claims, progress, state, dedupe ids and quarantine, on one fsspec location: each store in its own module,
    all on the one storage (`LedgerStorage`)."""

    def delivered_events_since(self, since: float,
                               event_types: Callable[[str], bool] | None = None) -> list[tuple[float, int]]:
        """(when, events accepted) of each bundle finished at or after `since` (Unix time), for the lag page's
        events per hour. The states say which bundles finished since then, so only their progress objects are
        read (one batch of reads), however many bundles the ledger holds."""
        self.file_states()
        paths = [self._path("files", f"{bundle}.json") for bundle in self.bundles_finished_since(since)]
        finished = []
        for data in (self.fs.cat(paths, on_error="omit").values() if paths else ()):
            progress = orjson.loads(data) if data else {}
            if not progress.get("finished") or (event_types is not None and not event_types(progress["event_type"])):
                continue
            counts = progress.get("counts") or {}
            finished.append((progress["updated"], counts.get("sent", 0) + counts.get("already_acknowledged", 0)))
        return finished
