"""The one normalisation: any staged record becomes a Custom HTTP event (braze-currents.md §4).

Output rule: `{"event_type", "id", "time", "user": {...}, "properties": {...}}` with null fields omitted,
as in every Custom HTTP sample Braze publishes. Sinks serialise with sorted keys, which is the order
those samples use.
"""

from __future__ import annotations

import fnmatch
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from itertools import repeat
from operator import itemgetter
from typing import TypeVar

import orjson

T = TypeVar("T")

USER_FIELDS = frozenset({"user_id", "external_user_id", "device_id", "timezone"})
_TOP_LEVEL = frozenset({"id", "time", "event_type"})

# Event types whose `properties` field is a string of JSON that the HTTP shape carries as an object.
_JSON_PROPERTY_FIELDS = {
    "users.behaviors.CustomEvent": "custom_properties",
    "users.behaviors.Purchase": "purchase_properties",
}
# Fields that the Avro export and the HTTP export name differently.
_RENAMED_FIELDS = {
    "users.messages.banner.": {"canvas_step_message_variation_id": "canvas_step_message_variation_api_id"},
}


class InvalidEvent(ValueError):
    """A record that cannot become an event (no `id`, a `time` that is not an integer, ...)."""


def canonical_event_type(name: str) -> str:
    """Accept Braze's documented slip `users.message.` and return the plural form Braze writes."""
    if name.startswith("users.message."):
        return "users.messages." + name[len("users.message.") :]
    return name


def _renames_for(event_type: str) -> dict[str, str]:
    for prefix, renames in _RENAMED_FIELDS.items():
        if event_type.startswith(prefix):
            return renames
    return {}


def _check_identity(event_id: object, event_time: object) -> None:
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEvent(f"event has no string `id` (got {event_id!r})")
    if isinstance(event_time, bool) or not isinstance(event_time, int):
        raise InvalidEvent(f"event {event_id} has a `time` that is not integer Unix seconds (got {event_time!r})")


def _json_or_text(raw: str) -> object:
    """A JSON-string property (`CustomEvent.properties`) as the value it holds; text that is not JSON stays text."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the same 32-bit float: Avro `float` 3.14 decodes as
    3.140000104904175, and Braze's HTTP export writes 3.14."""
    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == single:
            return candidate
    return value


def normalise_record(record: dict, event_type: str, float32_fields: frozenset[str] = frozenset()) -> dict:
    """A flat storage-export (Avro) record of `event_type` -> a Custom HTTP event.

    `float32_fields` names the record's Avro `float` fields, written back at their float32 precision.
    """
    return RecordNormaliser(record, event_type, float32_fields)(record)


class RecordNormaliser:
    """`normalise_record` for records that all have the same fields in the same order (one Avro file's):
    which section each field goes to, its output name and its float32 rounding are decided once per file
    instead of once per value."""

    def __init__(self, fields: Iterable[str], event_type: str, float32_fields: frozenset[str] = frozenset()) -> None:
        fields = tuple(fields)
        renames = _renames_for(event_type)
        self.event_type = event_type
        self._user = tuple(name for name in fields if name in USER_FIELDS)
        self._not_properties = USER_FIELDS | _TOP_LEVEL
        self._renames = tuple((name, out) for name, out in renames.items() if name in fields)
        self._floats = tuple(renames.get(name, name) for name in fields
                             if name in float32_fields and name not in self._not_properties)
        self._json_field = _JSON_PROPERTY_FIELDS.get(event_type)

    @property
    def json_field(self) -> str | None:
        """The field a JSON-string `properties` is read into, for this event type (None: it stays text)."""
        return self._json_field

    def __call__(self, record: dict) -> dict:
        event_id, event_time = record.get("id"), record.get("time")
        if type(event_id) is not str or not event_id or type(event_time) is not int:
            _check_identity(event_id, event_time)
        user = {name: value for name in self._user if (value := record[name]) is not None}
        skip = self._not_properties
        properties = {name: value for name, value in record.items() if value is not None and name not in skip}
        for name, out in self._renames:
            if name in properties:
                properties[out] = properties.pop(name)
        for out in self._floats:
            value = properties.get(out)
            if type(value) is float:
                properties[out] = shortest_float32(value)
        json_field = self._json_field
        if json_field is not None and isinstance(properties.get("properties"), str):
            properties[json_field] = _json_or_text(properties.pop("properties"))
        return {"event_type": self.event_type, "id": event_id, "time": event_time, "user": user,
                "properties": properties}

    def event_columns(self, columns: Mapping[str, list]) -> tuple[EventColumns, list[tuple[int, InvalidEvent]]]:
        """The same events from a file decoded column by column (`columns`: each field's values in file
        order, float32 fields already at their shortest float32 value), kept as columns: an `EventColumns` of
        the records that are events, and the others as (index, the `InvalidEvent` `__call__` would raise).
        Records holding both `properties` and the field it is read into are not for this method. The plan is
        `__init__`'s, applied to whole columns: a field absent from the schema is skipped once, not looked up
        per record."""
        ids, times = columns["id"], columns["time"]
        invalid: list[tuple[int, InvalidEvent]] = []
        # The reader's plan takes string ids and integer times only, so a record is no event only where one is
        # missing or empty: scans in C before any step per record.
        if None in ids or "" in ids or None in times:
            for index, (event_id, event_time) in enumerate(zip(ids, times)):
                if type(event_id) is not str or not event_id or type(event_time) is not int:
                    try:
                        _check_identity(event_id, event_time)
                    except InvalidEvent as error:
                        invalid.append((index, error))
        # `__call__` reads the property as JSON where it is a string; a column holds one type.
        raw_json = columns.get("properties") if self._json_field is not None else None
        json_field = self._json_field if raw_json is not None and any(type(raw) is str for raw in raw_json) else None
        renames = {**dict(self._renames), **({"properties": json_field} if json_field else {})}
        properties = {renames.get(name, name): values for name, values in columns.items()
                      if name not in self._not_properties}
        block = EventColumns(self.event_type, ids, times, {name: columns[name] for name in self._user}, properties,
                             json_field)
        if invalid:
            bad = {index for index, _ in invalid}
            block = block.take([index for index in range(len(ids)) if index not in bad])
        return block, invalid


class EventColumns:
    """Events of one event type held as columns: what the columnar reader gives, so filters, dedupe and the
    sinks' encoders can work a column at a time and make no dict for an event that is not sent.

    `user` and `properties` map each output field name to its values (None where the event has no value);
    the values of `json_field`, if set, are the JSON text a property holds (`CustomEvent.properties`), read
    only for an event that is made. `event(row)` and `events()` are the dicts `RecordNormaliser` makes for the
    same records."""

    __slots__ = ("event_type", "ids", "times", "user", "properties", "json_field")

    def __init__(self, event_type: str, ids: list[str], times: list[int], user: dict[str, list],
                 properties: dict[str, list], json_field: str | None = None) -> None:
        self.event_type, self.ids, self.times = event_type, ids, times
        self.user, self.properties, self.json_field = user, properties, json_field

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: list[int]) -> EventColumns:
        """The events at `rows`, increasing row numbers (all of them: this block itself)."""
        if len(rows) == len(self):
            return self
        if not rows:
            return EventColumns(self.event_type, [], [], dict.fromkeys(self.user, []),
                                dict.fromkeys(self.properties, []), self.json_field)
        getter = itemgetter(*rows)
        pick = (lambda values: [getter(values)]) if len(rows) == 1 else (lambda values: list(getter(values)))
        return EventColumns(self.event_type, pick(self.ids), pick(self.times),
                            {name: pick(values) for name, values in self.user.items()},
                            {name: pick(values) for name, values in self.properties.items()}, self.json_field)

    def column(self, section: str, name: str) -> list:
        """The values of one field (`section` "user" or "properties"), as the events hold them."""
        values = getattr(self, section)[name]
        if section == "properties" and name == self.json_field:
            return [None if raw is None else _json_or_text(raw) for raw in values]
        return values

    def event(self, row: int) -> dict:
        """One row's event."""
        return next(self.take([row]).events())

    def events(self) -> Iterator[dict]:
        """Every row's event, in order."""
        made, user_names, property_names = self._made, tuple(self.user), tuple(self.properties)
        user_rows = zip(*self.user.values()) if user_names else repeat(())
        property_rows = zip(*self.properties.values()) if property_names else repeat(())
        for event_id, event_time, user_row, property_row in zip(self.ids, self.times, user_rows, property_rows):
            yield made(event_id, event_time,
                       {name: value for name, value in zip(user_names, user_row) if value is not None},
                       {name: value for name, value in zip(property_names, property_row) if value is not None})

    def _made(self, event_id: str, event_time: int, user: dict, properties: dict) -> dict:
        json_field = self.json_field
        if json_field is not None and json_field in properties:
            properties[json_field] = _json_or_text(properties[json_field])
        return {"event_type": self.event_type, "id": event_id, "time": event_time, "user": user,
                "properties": properties}


def expand_blocks(parts: Iterable[EventColumns | T]) -> Iterator[dict | T]:
    """A reader's parts one event at a time: each `EventColumns` block as its events, anything else as it is."""
    for part in parts:
        if type(part) is EventColumns:
            yield from part.events()
        else:
            yield part


class EventRow:
    """One row of an `EventColumns`, standing for its event in a batch: the dict is made only if needed
    (the event is refused and quarantined), not for every event sent."""

    __slots__ = ("block", "row")

    def __init__(self, block: EventColumns, row: int) -> None:
        self.block, self.row = block, row

    def resolve(self) -> dict:
        return self.block.event(self.row)


def normalise_http_event(event: dict, default_event_type: str | None = None) -> dict:
    """An event already in the Custom HTTP shape (a staged HTTP body) -> the same shape, cleaned.

    A flat record without `user`/`properties` objects goes through `normalise_record`.
    """
    if not isinstance(event, dict):
        raise InvalidEvent(f"event is a {type(event).__name__}, not an object")
    event_type = event.get("event_type") or default_event_type
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent(f"event {event.get('id')!r} has no `event_type`")
    event_type = canonical_event_type(event_type)
    if not isinstance(event.get("user"), dict) and not isinstance(event.get("properties"), dict):
        return normalise_record(event, event_type)
    _check_identity(event.get("id"), event.get("time"))
    user = event.get("user") or {}
    properties = event.get("properties") or {}
    if not isinstance(user, dict) or not isinstance(properties, dict):
        raise InvalidEvent(f"event {event['id']} has a `user` or `properties` that is not an object")
    return {
        "event_type": event_type,
        "id": event["id"],
        "time": event["time"],
        "user": {k: v for k, v in user.items() if v is not None},
        "properties": {k: v for k, v in properties.items() if v is not None},
    }


class EventTypeSelector:
    """Exact names and glob patterns (`users.messages.email.*`); no patterns selects every type."""

    def __init__(self, patterns: Iterable[str] | None = None) -> None:
        self.patterns = tuple(canonical_event_type(p) for p in (patterns or ()) if p)
        self._regex = (
            re.compile("|".join(fnmatch.translate(p) for p in self.patterns)) if self.patterns else None
        )
        self._cache: dict[str, bool] = {}

    def __call__(self, event_type: str) -> bool:
        if self._regex is None:
            return True
        hit = self._cache.get(event_type)
        if hit is None:
            hit = self._cache[event_type] = self._regex.fullmatch(canonical_event_type(event_type)) is not None
        return hit

    def __repr__(self) -> str:
        return f"EventTypeSelector({list(self.patterns)!r})"
