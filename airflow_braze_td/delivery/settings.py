"""What a delivery is asked to do (`DeliverySettings`) and what it reports having done (`DeliverySummary`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from airflow_braze_td.delivery.filters import DEFAULT_DEDUPE_HOURS, EventFilter, FieldTransform
from airflow_braze_td.delivery.ledger import FIRST_GENERATION
from airflow_braze_td.identities import settings_fingerprint

if TYPE_CHECKING:
    from airflow_braze_td.delivery.sink import Sink


@dataclass(frozen=True)
class DeliverySettings:
    """Everything that decides what a file's batches contain; it is part of every batch identity."""

    event_filter: EventFilter = field(default_factory=EventFilter)
    transform: FieldTransform = field(default_factory=FieldTransform)
    dedupe_hours: int = DEFAULT_DEDUPE_HOURS
    generation: str = FIRST_GENERATION
    claim_ttl: float = 1800.0
    progress_interval: float = 30.0
    # Requests sent at once (None: the sink's default). More hide TD's answer time; for a sink that is not
    # idempotent, a worker killed with n requests in flight may leave n batches delivered and not recorded.
    requests_in_flight: int | None = None

    def __post_init__(self) -> None:
        if self.requests_in_flight is not None and self.requests_in_flight < 1:
            raise ValueError(f"requests_in_flight must be at least 1, not {self.requests_in_flight}")

    @property
    def replay(self) -> bool:
        return self.generation != FIRST_GENERATION

    def fingerprint(self, sink: Sink) -> str:
        """Changes when the sink's resolved destination or any setting that shapes the batches changes, so
        progress made towards another table is never taken for this one's."""
        shape = {
            "destination": sink.destination,
            "limits": asdict(sink.limits),
            "filter": [self.event_filter.event_types, self.event_filter.require_external_user_id,
                       self.event_filter.since, self.event_filter.until],
            "transform": [self.transform.drop_fields, self.transform.hash_fields],
            "dedupe_hours": self.dedupe_hours,
        }
        return settings_fingerprint(shape)


@dataclass
class DeliverySummary:
    """What one delivery did: small, for XCom and logs, never payloads."""

    sink: str
    files: int = 0
    files_delivered: int = 0
    files_already_delivered: int = 0
    files_claimed_elsewhere: int = 0
    files_quarantined: int = 0
    # Avro files read by the columnar reader, and those read by fastavro, by the columnar reader's reason.
    files_columnar: int = 0
    files_fastavro: Counter = field(default_factory=Counter)
    events_read: int = 0
    events_sent: int = 0
    events_already_acknowledged: int = 0
    filtered: Counter = field(default_factory=Counter)
    duplicates: int = 0
    quarantined: int = 0
    batches: int = 0
    retries: int = 0
    requests: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        values = asdict(self)
        values["filtered"] = dict(self.filtered)
        values["files_fastavro"] = dict(self.files_fastavro)
        values["seconds"] = round(self.seconds, 3)
        return values

