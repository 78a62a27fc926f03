"""THE batcher, shared by every sink: events grouped per route (table) under a count and a byte limit.

Sizes are exact request-body sizes: the sink says how many bytes its envelope adds around the items
(`{"events":[` + `]}` is 13) and how many go between two items (`,` is 1), so a closed batch never
goes over the endpoint's limit. It is on the hot path, so `add` does an append and some integer
arithmetic, and returns a shared empty tuple when nothing closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airflow_braze_td.delivery.sink import DeferredEvent, EventEncodeError


class OversizeEvent(EventEncodeError):
    """An item that can never be sent by this sink, alone or with others; `reason` says which limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BatchLimits:
    """Per request: at most `max_events` items and `max_bytes` of body; each item at most `max_item_bytes`."""

    max_events: int
    max_bytes: int
    max_item_bytes: int

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_bytes < 1 or self.max_item_bytes < 1:
            raise ValueError(f"batch limits must be positive: {self}")


@dataclass
class Batch:
    """One request's worth of encoded items; `events[i]` is the event `items[i]` came from (its dict, or a
    `DeferredEvent` that makes it when a `Rejection` needs it).

    `nbytes` is the request body size (envelope, items and separators). `key` is a deterministic hex
    identity set by the caller (the import sink uses it as the upload's unique id).
    """

    route: str
    index: int
    items: list[bytes]
    events: list[dict | DeferredEvent]
    nbytes: int
    key: str = ""

    def __len__(self) -> int:
        return len(self.items)


class _Open:
    __slots__ = ("events", "items", "nbytes")

    def __init__(self, envelope: int) -> None:
        self.items: list[bytes] = []
        self.events: list[dict | DeferredEvent] = []
        self.nbytes = envelope


_NOTHING: tuple[Batch, ...] = ()


class Batcher:
    """Groups items per route; `add` returns the batches it closed, `flush` closes the rest."""

    def __init__(self, limits: BatchLimits, envelope_bytes: int = 0, separator_bytes: int = 0) -> None:
        if envelope_bytes < 0 or separator_bytes < 0:
            raise ValueError("envelope and separator sizes cannot be negative")
        if envelope_bytes >= limits.max_bytes:
            raise ValueError(f"an envelope of {envelope_bytes} bytes leaves no room under {limits.max_bytes}")
        self.limits = limits
        self.envelope_bytes = envelope_bytes
        self.separator_bytes = separator_bytes
        self._max_events = limits.max_events
        self._max_bytes = limits.max_bytes
        self._max_item = min(limits.max_item_bytes, limits.max_bytes - envelope_bytes)
        self._open: dict[str, _Open] = {}
        self._next_index = 0

    def _close(self, route: str, batch: _Open) -> Batch:
        closed = Batch(route, self._next_index, batch.items, batch.events, batch.nbytes)
        self._next_index += 1
        return closed

    def add(self, route: str, item: bytes, event: dict | DeferredEvent) -> Sequence[Batch]:
        """Buffer `item`; return the batches this closed (usually none). Raise `OversizeEvent` if it can never fit."""
        size = len(item)
        if size > self._max_item:
            self._refuse(size)
        current = self._open.get(route)
        if current is None:
            current = self._open[route] = _Open(self.envelope_bytes)
        closed: Sequence[Batch] = _NOTHING
        if current.items and current.nbytes + self.separator_bytes + size > self._max_bytes:
            closed = (self._close(route, current),)
            current = self._open[route] = _Open(self.envelope_bytes)
        if current.items:
            current.nbytes += self.separator_bytes + size
        else:
            current.nbytes += size
        current.items.append(item)
        current.events.append(event)
        if len(current.items) >= self._max_events:
            del self._open[route]
            return (*closed, self._close(route, current))
        return closed

    def add_all(self, route: str, items: list[bytes], events: list[dict | DeferredEvent]) -> list[Batch]:
        """`add` of each item in turn (`events[i]` is the event of `items[i]`), in one call and one pass of
        integer arithmetic: the batches closed. Raises `OversizeEvent`, having buffered nothing, if an item can
        never fit; the caller then adds the items one at a time to set that one aside."""
        if not items:
            return []
        largest = max(map(len, items))
        if largest > self._max_item:
            self._refuse(largest)
        envelope, separator, max_bytes, max_events = (self.envelope_bytes, self.separator_bytes, self._max_bytes,
                                                      self._max_events)
        current: _Open | None = self._open.get(route)
        if current is None:
            current = self._open[route] = _Open(envelope)
        nbytes, count, start = current.nbytes, len(current.items), 0
        closed: list[Batch] = []

        def close(batch: _Open, end: int) -> None:
            batch.items.extend(items[start:end])
            batch.events.extend(events[start:end])
            batch.nbytes = nbytes
            closed.append(self._close(route, batch))

        for index, size in enumerate(map(len, items)):
            if current is None:  # as `add` does after closing on the count: a new batch, last in route order
                current, nbytes, count, start = _Open(envelope), envelope, 0, index
                self._open[route] = current
            elif count and nbytes + separator + size > max_bytes:
                close(current, index)
                current, nbytes, count, start = _Open(envelope), envelope, 0, index
                self._open[route] = current
            nbytes += separator + size if count else size
            count += 1
            if count >= max_events:
                close(current, index + 1)
                del self._open[route]
                current = None
        if current is not None:
            current.items.extend(items[start:])
            current.events.extend(events[start:])
            current.nbytes = nbytes
        return closed

    def _refuse(self, size: int) -> None:
        """Raise `OversizeEvent` for an item of `size` bytes, which can never fit, naming the limit it breaks."""
        if size > self.limits.max_item_bytes:
            raise OversizeEvent(
                f"event encodes to {size} bytes, over this sink's limit of {self.limits.max_item_bytes} per event"
            )
        raise OversizeEvent(
            f"event encodes to {size} bytes, which with the {self.envelope_bytes}-byte envelope is over "
            f"this sink's limit of {self._max_bytes} bytes per request"
        )

    def flush(self) -> list[Batch]:
        """Close every open batch, in the order their routes first appeared."""
        closed = [self._close(route, batch) for route, batch in self._open.items() if batch.items]
        self._open.clear()
        return closed

    def pending(self) -> int:
        """Events buffered and not yet in a returned batch."""
        return sum(len(batch.items) for batch in self._open.values())
