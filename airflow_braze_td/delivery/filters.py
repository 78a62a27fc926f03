"""What is sent: event filters (with the reason an event is left out), PII transforms, and dedupe by id."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from airflow_braze_td.currents.events import EventTypeSelector

FILTERED_EVENT_TYPE = "event_type"
FILTERED_NO_EXTERNAL_ID = "no_external_user_id"
FILTERED_WINDOW = "window"


@dataclass(frozen=True)
class EventFilter:
    """Braze's TD export rule (only users with an `external_user_id`), event types, an event-time window."""

    event_types: tuple[str, ...] = ()
    require_external_user_id: bool = True
    since: int | None = None
    until: int | None = None
    _selector: EventTypeSelector = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_selector", EventTypeSelector(self.event_types))

    @property
    def selector(self) -> EventTypeSelector:
        return self._selector

    def reason_to_drop(self, event: dict) -> str | None:
        """None when the event is sent, else the reason it is filtered out."""
        if not self._selector(event["event_type"]):
            return FILTERED_EVENT_TYPE
        if self.require_external_user_id and not event["user"].get("external_user_id"):
            return FILTERED_NO_EXTERNAL_ID
        if (self.since is not None and event["time"] < self.since) or (
            self.until is not None and event["time"] >= self.until
        ):
            return FILTERED_WINDOW
        return None


@dataclass(frozen=True)
class FieldTransform:
    """Drop or SHA-256-hash fields by path (`user.external_user_id`, `properties.email_address`) for PII."""

    drop_fields: tuple[str, ...] = ()
    hash_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for path in (*self.drop_fields, *self.hash_fields):
            if len(path.split(".")) < 2 or path.split(".")[0] not in ("user", "properties"):
                raise ValueError(f"field path {path!r} must start with `user.` or `properties.`")

    def __bool__(self) -> bool:
        return bool(self.drop_fields or self.hash_fields)

    def apply(self, event: dict) -> dict:
        for path in self.drop_fields:
            parent, name = _parent(event, path)
            if parent is not None:
                parent.pop(name, None)
        for path in self.hash_fields:
            parent, name = _parent(event, path)
            if parent is not None and parent.get(name) is not None:
                parent[name] = hashlib.sha256(str(parent[name]).encode()).hexdigest()
        return event


def _parent(event: dict, path: str) -> tuple[dict | None, str]:
    *steps, name = path.split(".")
    node: object = event
    for step in steps:
        node = node.get(step) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), name


class DedupeWindow:
    """Event ids already seen, per (event type, queue hour), for Braze's at-least-once duplicates.

    A duplicate is always of the same event type and lands within a few hours of the original, so ids
    are kept for `hours` queue hours either side of the file being read. `load` fills an hour from the
    ledger (files delivered by earlier runs) the first time that hour is needed.
    """

    def __init__(self, hours: int, load: Callable[[str, int], Iterable[str]]) -> None:
        self.hours = hours
        self._load = load
        self._seen: dict[tuple[str, int], set[str]] = {}
        self._evicted_for: dict[str, int] = {}

    def _hour_set(self, event_type: str, hour: int) -> set[str]:
        key = (event_type, hour)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = set(self._load(event_type, hour))
        return found

    def checker(self, event_type: str, hour: int) -> Callable[[str], bool]:
        """A fast `is_duplicate(id)` for one file: marks the id seen, says whether it was seen before."""
        neighbours = [self._hour_set(event_type, hour + offset) for offset in range(-self.hours, self.hours + 1)
                      if offset]
        own = self._hour_set(event_type, hour)
        add = own.add

        def is_duplicate(event_id: str) -> bool:
            if event_id in own:
                return True
            for other in neighbours:
                if event_id in other:
                    return True
            add(event_id)
            return False

        return is_duplicate

    def evict_before(self, event_type: str, hour: int) -> None:
        """Forget the event type's hours that no later file of that type can reach, to bound memory.

        Per event type, because files are read hour by hour within each type, not across types: another
        type may still be at an earlier hour, with ids of this run that the ledger does not have yet.
        """
        if hour <= self._evicted_for.get(event_type, -1):
            return
        self._evicted_for[event_type] = hour
        for key in [key for key in self._seen if key[0] == event_type and key[1] < hour - self.hours]:
            del self._seen[key]
