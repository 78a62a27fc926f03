"""The ledger's records for people: quarantined events and files, what a person discarded, the last delivery
error of each delivery and event-type group, and what a deliberate replay covered.

    quarantine/<identity>/<name>.json   rejected events and unreadable files, with their reasons
    discarded/<name>.json               quarantine records a person dropped with `braze-td requeue --discard`
    errors/<name>.json                  the last error that stopped a delivery (bad key, missing table), one per
                                        destination and event-type group, until a delivery of those types succeeds
    replays/<generation>.json           what a deliberate replay covered
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import orjson

from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.delivery.ledger.storage import LedgerStorage
from airflow_braze_td.identities import discard_record_name, error_record_name


class RecordStore(LedgerStorage):
    """Quarantine, discards, delivery errors and replays."""

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
