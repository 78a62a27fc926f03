"""The ledger's state store: which files are delivered or quarantined, and by which generation.

    state/<event type>/<bundle>.bundle      the states of a finished bundle's files (one event type), with
                                            their generation
    state/<event type>/<identity>.<state>   `delivered` or `quarantined` set for one file (requeue)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import fsspec
import orjson

from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.delivery.ledger.storage import LedgerStorage

DELIVERED = "delivered"
QUARANTINED = "quarantined"
_BUNDLE_STATE = "bundle"


@dataclass(frozen=True)
class FileState:
    """A finished file's state, and the generation that finished it (None when a person set it)."""

    state: str
    generation: str | None = None


class StateStore(LedgerStorage):
    """Finished files' states, indexed once per bundle object read."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        super().__init__(fs, root)
        # Finished bundles' states, read once per object: identity -> (when the bundle finished, state).
        self._indexed: set[str] = set()
        self._bundle_index: dict[str, tuple[float, FileState]] = {}
        self._bundles_finished: dict[str, float] = {}

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

    def bundles_finished_since(self, since: float) -> list[str]:
        """The bundles `file_states()` has read that finished at or after `since` (Unix time)."""
        return [bundle for bundle, finished in self._bundles_finished.items() if finished >= since]

    def _index_bundle(self, path: str, record: dict) -> None:
        """Index a finished bundle's files. The index holds every finished file of the staging prefix, so
        the files of one bundle share one entry per state rather than one each."""
        self._indexed.add(path)
        updated, generation = record["updated"], record["generation"]
        self._bundles_finished[path.rsplit("/", 1)[1].removesuffix(f".{_BUNDLE_STATE}")] = updated
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

    def set_state(self, staged: StagedFile, state: str) -> None:
        for other in (DELIVERED, QUARANTINED):
            path = self._path("state", staged.event_type, f"{staged.identity}.{other}")
            if other != state and self.fs.exists(path):
                self.fs.rm(path)
        self._write(self._path("state", staged.event_type, f"{staged.identity}.{state}"), staged.key.encode())
