"""The ledger's dedupe ids: 64-bit hashes of the ids each bundle handed to Treasure Data, per event type and
queue hour, for dedupe across runs and the count of distinct ids delivered.

    ids/<event type>/<hour>/<bundle>.hids   per file identity, its id hashes as little-endian 64-bit words
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

import msgpack
import numpy as np

from airflow_braze_td.delivery.filters import sorted_hashes
from airflow_braze_td.delivery.ledger.storage import LedgerStorage

_BUNDLE_IDS = ".hids"
DEDUPE_REPORT_HOURS = 120
"""Hours of ids `dedupe_report` reads: Braze retries a write for at most 5 days (S3, GCS), so every copy it
stages again lies within them."""


class IdStore(LedgerStorage):
    """The id hashes of finished files, read an event type's hour at a time."""

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
