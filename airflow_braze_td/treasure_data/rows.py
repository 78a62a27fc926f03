"""Events as flat Treasure Data rows, and the names of the tables they go to.

A row follows TD's "Braze Currents Streaming" connector (braze-currents.md §5): `user_<field>` and
`properties_<field>` columns, so SQL written for that connector keeps working. Two deliberate differences:
`time` is the event's own time (the connector uses the receive time, which makes `time` useless for
partition pruning by event date), and null fields are left out, as the normaliser does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import repeat
from typing import TYPE_CHECKING, Any

import orjson

from airflow_braze_td.identities import shortened_name_suffix
from airflow_braze_td.treasure_data.errors import TDInvalidNameError

if TYPE_CHECKING:
    from airflow_braze_td.currents.events import EventColumns

NAME_MIN, NAME_MAX = 3, 255
_VALID_NAME = re.compile(r"[a-z0-9_]{3,255}")
_INVALID_RUN = re.compile(r"[^a-z0-9_]+")
EVENT_TYPE_PLACEHOLDER = "{event_type}"
_ROUTE_CACHE_MAX = 10_000


def safe_name(text: str) -> str:
    """`text` made a valid TD name: lower-case, other characters as `_`, padded or hashed to 3-255."""
    name = _INVALID_RUN.sub("_", text.lower())
    if len(name) < NAME_MIN:
        name = name.ljust(NAME_MIN, "_")
    if len(name) > NAME_MAX:
        name = name[: NAME_MAX - 9] + "_" + shortened_name_suffix(name)
    return name


def validate_name(name: object, kind: str = "table") -> str:
    """Return `name` if Treasure Data accepts it as a database or table name, else explain why not."""
    if isinstance(name, str) and _VALID_NAME.fullmatch(name):
        return name
    hint = f" (for example {safe_name(name)!r})" if isinstance(name, str) and name else ""
    raise TDInvalidNameError(
        f"{kind} name {name!r} is not valid in Treasure Data: it must be {NAME_MIN} to {NAME_MAX} characters "
        f"of lower-case letters, digits and underscores{hint}"
    )


def column_name(prefix: str, field: str) -> str:
    """`prefix + field` as a column name: lower-case `[a-z0-9_]` (`properties_campaign_name`)."""
    return prefix + (_INVALID_RUN.sub("_", field.lower()) or "_")


# Column names per section, cached: field names come from a small vocabulary and this is the hot path.
_SECTIONS: tuple[tuple[str, str, dict[str, str]], ...] = (("user", "user_", {}), ("properties", "properties_", {}))
_NESTED = frozenset({dict, list, tuple})  # the container types a decoded event holds
_COLUMN_CACHE_MAX = 65_536


def flatten_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A normalised event -> one row: `time`, `id`, `event_type`, `user_*`, `properties_*`.

    Nested objects and arrays become JSON strings (sorted keys), which TD's JSON functions read.
    """
    row: dict[str, Any] = {"time": event["time"], "id": event["id"], "event_type": event["event_type"]}
    for section, prefix, columns in _SECTIONS:
        values = event.get(section)
        if not values:
            continue
        for field, value in values.items():
            if value is None:
                continue
            name = columns.get(field) or _column(columns, prefix, field)
            if type(value) in _NESTED:
                value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
            row[name] = value
    return row


def flatten_columns(block: EventColumns) -> list[dict[str, Any]]:
    """`flatten_event` of each event of `block`, made a column at a time: which column a field becomes, and
    whether it needs JSON, is decided once per field (a column holds one type), not once per value."""
    names: list[str] = ["time", "id", "event_type"]
    columns: list = [block.times, block.ids, repeat(block.event_type)]
    for section, prefix, cache in _SECTIONS:
        for field in getattr(block, section):
            values = block.column(section, field)
            first = next((value for value in values if value is not None), None)
            if first is None:
                continue
            if type(first) in _NESTED or field == block.json_field:
                values = [orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if type(value) in _NESTED
                          else value for value in values]
            names.append(_column(cache, prefix, field))
            columns.append(values)
    return [{name: value for name, value in zip(names, row) if value is not None} for row in zip(*columns)]


def _column(cache: dict[str, str], prefix: str, field: str) -> str:
    name = cache.get(field)
    if name is None:
        if len(cache) >= _COLUMN_CACHE_MAX:
            cache.clear()
        name = cache[field] = column_name(prefix, field)
    return name


class TableRouter:
    """The table an event goes to: a fixed name, or a template with `{event_type}` in it.

    `braze_{event_type}` sends `users.messages.email.Open` to `braze_users_messages_email_open`.
    Whatever the event type, the result is a valid TD name.
    """

    def __init__(self, table: str) -> None:
        self.template = table
        self.templated = EVENT_TYPE_PLACEHOLDER in table
        if self.templated:
            fixed_part = table.replace(EVENT_TYPE_PLACEHOLDER, "")
            if _INVALID_RUN.search(fixed_part) or len(fixed_part) > NAME_MAX:
                raise TDInvalidNameError(
                    f"table template {table!r}: outside {EVENT_TYPE_PLACEHOLDER} it may only hold lower-case "
                    "letters, digits and underscores"
                )
            self._fixed = ""
        else:
            self._fixed = validate_name(table, "table")
        self._cache: dict[str, str] = {}

    def __call__(self, event_type: str) -> str:
        if self._fixed:
            return self._fixed
        table = self._cache.get(event_type)
        if table is None:
            if len(self._cache) >= _ROUTE_CACHE_MAX:
                self._cache.clear()
            table = self._cache[event_type] = safe_name(self.template.replace(EVENT_TYPE_PLACEHOLDER, event_type))
        return table

    def __repr__(self) -> str:
        return f"TableRouter({self.template!r})"
