"""What a delivery needs from a destination: the `Sink` protocol and the types it speaks in.

`delivery` owns this contract and never imports an implementation; `treasure_data.sinks` implements it,
and the Treasure Data hook builds the sink a delivery is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from airflow_braze_td.currents.events import EventColumns
    from airflow_braze_td.delivery.batching import Batch, Batcher, BatchLimits


class EventEncodeError(ValueError):
    """An event this sink can never send (it cannot be encoded, or is too big); the delivery quarantines it."""


class DeferredEvent(Protocol):
    """What a batch may hold for an event instead of its dict (an `EventRow`): the dict, made when asked."""

    def resolve(self) -> dict:
        ...


@dataclass(frozen=True)
class Rejection:
    """An event the destination refused (or that could not be delivered), and why; a batch's deferred event
    is made into its dict here, the only place a sent event is needed again."""

    event: dict
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", event_dict(self.event))


def event_dict(event: dict | DeferredEvent) -> dict:
    """A batch's event as its dict: made now if the batch held it deferred."""
    return event if isinstance(event, dict) else event.resolve()


@dataclass
class SendResult:
    """What one `send` did: events accepted, events rejected, and the HTTP requests it took."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    retries: int = 0
    requests: int = 0


class Sink(Protocol):
    """One delivery mode: `encode` an event to `(route, item)`, batch the items with `batcher()`, `send` each
    batch. `send` may run on several threads at once (up to `requests_in_flight`)."""

    mode: str
    # A resend of a batch with the same `Batch.key` is dropped by the destination.
    idempotent: bool
    # Requests a delivery keeps in flight by default.
    requests_in_flight: int
    limits: BatchLimits

    @property
    def destination(self) -> str:
        """Where batches land, without any secret; part of every batch identity."""
        ...

    def reserve_connections(self, requests_in_flight: int) -> None:
        """Keep one connection per request in flight."""
        ...

    def batcher(self) -> Batcher:
        """A batcher sized for this sink's requests."""
        ...

    def encode(self, event: dict) -> tuple[str, bytes]:
        """`(route, item bytes)` for one normalised event; raises `EventEncodeError`."""
        ...

    def encode_columns(self, block: EventColumns, rows: list[int]) -> tuple[str, list[bytes]]:
        """`(route, items)` for the events at `rows` of `block` (all of one event type, so of one route), equal
        to `encode` of each; raises `EventEncodeError` if any cannot be encoded."""
        ...

    def send(self, batch: Batch) -> SendResult:
        """Deliver one batch; events the destination refuses come back in `SendResult.rejected`."""
        ...
