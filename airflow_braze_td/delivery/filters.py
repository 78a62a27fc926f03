"""What is sent: event filters (with the reason an event is left out), PII transforms, and dedupe by id."""

from __future__ import annotations

import hashlib
import sys
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.identities import id_hash

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
        return self.reasons(event["event_type"], (event["user"].get("external_user_id"),), (event["time"],))[0]

    def reasons(self, event_type: str, external_user_ids: Sequence[str | None] | None,
                times: Sequence[int]) -> list[str | None]:
        """`reason_to_drop` of each of many events of one type, from the two fields it reads per event (events
        held as columns have no dicts to read; None: no event has an external id field): the event type is
        judged once, each event in one expression."""
        if not self._selector(event_type):
            return [FILTERED_EVENT_TYPE] * len(times)
        need_external, since, until = self.require_external_user_id, self.since, self.until
        if external_user_ids is None:
            external_user_ids = [None] * len(times)
        if since is None and until is None:
            if not need_external:
                return [None] * len(times)
            return [None if external else FILTERED_NO_EXTERNAL_ID for external in external_user_ids]
        return [FILTERED_NO_EXTERNAL_ID if need_external and not external
                else FILTERED_WINDOW if (since is not None and time < since) or (until is not None and time >= until)
                else None
                for external, time in zip(external_user_ids, times, strict=True)]


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


DEFAULT_DEDUPE_HOURS = 48
"""Braze's loss window: a retry lands at most this long after the first copy (Azure; the lag sensor's default)."""
# Fresh ids of the hour being read are a set until this many, then a sorted chunk like the ledger's.
FRESH_IDS_MAX = 1 << 16
# Bits of the prefilter per id held: at least this many, at most twice (4 to 8 bytes an id).
FILTER_BITS_PER_ID = 32
FILTER_MIN_BITS = 1 << 16
HASH_TYPECODE = "Q"
"""Id hashes in memory: `array('Q')`, unsigned 64-bit in the machine's byte order (the ledger's are little-endian)."""


def sorted_hashes(hashes: Iterable[int] | array | bytes) -> array:
    """Hashes (ints, an array, or the ledger's little-endian bytes) as one sorted `array('Q')`, sorted by numpy."""
    if isinstance(hashes, bytes):
        values = np.frombuffer(hashes, dtype="<u8")
    elif isinstance(hashes, array):
        values = np.frombuffer(hashes, dtype=np.uint64)
    else:
        values = np.fromiter(hashes, dtype=np.uint64)
    return array(HASH_TYPECODE, np.sort(values).astype(np.uint64).tobytes())


class DedupeWindow:
    """Event ids already delivered, per event type and queue hour, for Braze's at-least-once duplicates.

    An id is a duplicate when the same event type holds it in a queue hour at most `hours` away from the file
    being read, delivered by this run or (from the ledger) by any earlier run, task or worker. Each id is held
    as its stable 64-bit hash (`id_hash`, also what the ledger keeps) in one sorted `array('Q')` per hour,
    behind a two-bit prefilter: 12 to 16 bytes an id (a set of the ids takes about 120, a set of their hashes
    about 70: benchmarks/dedupe_window.py). A 64-bit match is taken as the id: with W ids held, the odds that
    an event which is no duplicate is dropped are W / 2**64 (48 million ids: 2.6e-12 an event, 0.0026 per
    billion events).

    The ledger's hours of an event type are read once per run, when its first file is read (one listing of
    the type's hours, then the hours the window reaches), as sorted hashes ready to search: reading costs
    numpy's sort and prefilter marking, not a Python step per id. `evict_before` forgets hours no later file
    of the type can reach.
    """

    def __init__(self, hours: int, load: Callable[[str, int], array],
                 hours_held: Callable[[str], Iterable[int]]) -> None:
        if hours < 0:
            raise ValueError(f"dedupe_hours must be 0 or more, not {hours}")
        self.hours = hours
        self._load = load
        self._hours_held = hours_held
        self._types: dict[str, _EventTypeIds] = {}

    def _ids_of(self, event_type: str) -> _EventTypeIds:
        found = self._types.get(event_type)
        if found is None:
            found = self._types[event_type] = _EventTypeIds(set(self._hours_held(event_type)))
        return found

    @property
    def ids_held(self) -> int:
        return sum(ids.count for ids in self._types.values())

    @property
    def bytes_held(self) -> int:
        """Memory of the ids held: chunks, prefilters, and the fresh ids not yet in a chunk."""
        return sum(ids.nbytes for ids in self._types.values())

    def checker(self, event_type: str, hour: int) -> Callable[[str], int | None]:
        """A fast `new_id_hash(id)` for one file: the id's hash when it is new (now marked seen), None for a
        duplicate.

        The hour's ids of this run are a set (checked first); other ids pass the prefilter's two bits before
        the hours' chunks are searched, nearest hour first.
        """
        ids = self._ids_of(event_type)
        lowest, highest = hour - self.hours, hour + self.hours
        ids.add_hours([(near, self._load(event_type, near)) for near in ids.take_unread(lowest, highest)])
        ids.freeze_fresh(except_hour=hour)
        own = ids.fresh.setdefault(hour, set())
        add = own.add
        nearest_first: list[int] = []  # the hours holding chunks, found at the first lookup that needs them

        def held(hashed: int) -> bool:
            if not nearest_first:
                hours = {found for found in ids.chunks if lowest <= found <= highest} | {hour}
                nearest_first.extend(sorted(hours, key=lambda found: abs(found - hour)))
            return ids.held(hashed, nearest_first)

        def new_id_hash(event_id: str) -> int | None:
            hashed = id_hash(event_id)
            if hashed in own:
                return None
            bits, mask = ids.bits, ids.mask
            first = hashed & mask
            if bits[first >> 3] >> (first & 7) & 1:
                second = (hashed >> 32) & mask
                if bits[second >> 3] >> (second & 7) & 1 and held(hashed):
                    return None
            add(hashed)
            if len(own) >= FRESH_IDS_MAX:
                ids.freeze(hour, own)
            return hashed

        return new_id_hash

    def evict_before(self, event_type: str, hour: int) -> None:
        """Forget the event type's hours that no later file of that type can reach, to bound memory.

        Per event type, because files are read hour by hour within each type, not across types: another
        type may still be at an earlier hour, with ids of this run that the ledger does not have yet.
        """
        found = self._types.get(event_type)
        if found is not None:
            found.forget_before(hour - self.hours)


class _EventTypeIds:
    """One event type's ids: sorted 64-bit hash chunks per queue hour behind a prefilter of two bits per id
    (a bytearray of 32 to 64 bits per id), and a set of the hour being read until it is frozen into a chunk."""

    def __init__(self, hours_in_ledger: set[int]) -> None:
        self.chunks: dict[int, list[array]] = {}
        self.fresh: dict[int, set[int]] = {}
        self._chunked = 0
        self._unread = hours_in_ledger
        self._build()

    @property
    def count(self) -> int:
        return self._chunked + sum(map(len, self.fresh.values()))

    @property
    def nbytes(self) -> int:
        chunked = sum(len(chunk) * chunk.itemsize for chunks in self.chunks.values() for chunk in chunks)
        return chunked + len(self.bits) + sum(sys.getsizeof(ids) for ids in self.fresh.values())

    def take_unread(self, lowest: int, highest: int) -> list[int]:
        """The hours from `lowest` to `highest` of which the ledger holds ids not read yet (now taken as read)."""
        taken = [hour for hour in self._unread if lowest <= hour <= highest]
        self._unread.difference_update(taken)
        return taken

    def add_hours(self, loaded: list[tuple[int, array]]) -> None:
        for hour, chunk in loaded:
            self._add_chunk(hour, chunk, mark=False)
        if self._chunked * FILTER_BITS_PER_ID > self.mask + 1:  # one build for all the hours read
            self._build()
        else:
            for _, chunk in loaded:
                self._mark(chunk)

    def freeze(self, hour: int, own: set[int]) -> None:
        """Move the hour's fresh ids into a chunk (the set object stays, empty, for its checker)."""
        if own:
            self._add_chunk(hour, sorted_hashes(own), mark=True)
            own.clear()

    def freeze_fresh(self, except_hour: int) -> None:
        for hour in [hour for hour in self.fresh if hour != except_hour]:
            self.freeze(hour, self.fresh.pop(hour))

    def _add_chunk(self, hour: int, chunk: array, *, mark: bool) -> None:
        if not chunk:
            return
        self.chunks.setdefault(hour, []).append(chunk)
        self._chunked += len(chunk)
        if mark and self._chunked * FILTER_BITS_PER_ID > self.mask + 1:
            self._build()
        elif mark:
            self._mark(chunk)

    def held(self, hashed: int, hours: list[int]) -> bool:
        """Whether a chunk of one of `hours` holds the hash (past the prefilter: a duplicate, or one of its
        rare misses). Fresh ids are only those of the checker's own hour, which it looks up first."""
        for hour in hours:
            for chunk in self.chunks.get(hour, ()):
                at = bisect_left(chunk, hashed)
                if at < len(chunk) and chunk[at] == hashed:
                    return True
        return False

    def forget_before(self, hour: int) -> None:
        forgotten = 0
        for old in [old for old in self.chunks if old < hour]:
            forgotten += sum(map(len, self.chunks.pop(old)))
        for old in [old for old in self.fresh if old < hour]:
            del self.fresh[old]
        self._chunked -= forgotten
        self._stale += forgotten
        if self._stale > self._chunked:  # most bits set are of forgotten ids: rebuild
            self._build()

    def _build(self) -> None:
        size = max(FILTER_MIN_BITS, 1 << (self._chunked * FILTER_BITS_PER_ID - 1).bit_length())
        self.bits = bytearray(size >> 3)
        self.mask = size - 1
        self._stale = 0
        for chunks in self.chunks.values():
            for chunk in chunks:
                self._mark(chunk)

    def _mark(self, hashes: array) -> None:
        """Set the two bits of each hash (the low bits, and the bits from bit 32), in numpy: no Python step per id."""
        if not hashes:
            return
        values = np.frombuffer(hashes, dtype=np.uint64)
        bits = np.frombuffer(self.bits, dtype=np.uint8)
        for slot in (values & np.uint64(self.mask), (values >> np.uint64(32)) & np.uint64(self.mask)):
            np.bitwise_or.at(bits, (slot >> np.uint64(3)).astype(np.intp),
                             np.left_shift(np.uint8(1), (slot & np.uint64(7)).astype(np.uint8)))
