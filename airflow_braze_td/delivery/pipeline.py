"""deliver(files) -> summary: read, filter, dedupe, transform, batch and send staged files through one sink,
recording progress in the ledger after each acknowledged batch.

A retry resumes from the ledger: batches are rebuilt in the same order from the same file, the ones
already acknowledged are skipped, and each batch keeps its identity (`Batch.key`), so the Import API
drops any batch that TD stored before the failure.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import orjson

from airflow_braze_td.currents.decode import BadEvent, CorruptFileError
from airflow_braze_td.currents.events import InvalidEvent, normalise_http_event
from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.batching import Batch, OversizeEvent
from airflow_braze_td.delivery.filters import DedupeWindow, EventFilter, FieldTransform
from airflow_braze_td.delivery.ledger import DELIVERED, FIRST_GENERATION, QUARANTINED, FileProgress, Ledger
from airflow_braze_td.treasure_data.errors import EventEncodeError
from airflow_braze_td.treasure_data.sinks import Sink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliverySettings:
    """Everything that decides what a file's batches contain; it is part of every batch identity."""

    target: str
    event_filter: EventFilter = field(default_factory=EventFilter)
    transform: FieldTransform = field(default_factory=FieldTransform)
    dedupe_hours: int = 1
    generation: str = FIRST_GENERATION
    claim_ttl: float = 1800.0
    progress_interval: float = 30.0

    @property
    def replay(self) -> bool:
        return self.generation != FIRST_GENERATION

    def fingerprint(self, sink: Sink) -> str:
        """Changes when any setting that shapes the batches changes, so old progress is not reused."""
        shape = {
            "mode": sink.mode,
            "target": self.target,
            "limits": asdict(sink.limits),
            "filter": [self.event_filter.event_types, self.event_filter.require_external_user_id,
                       self.event_filter.since, self.event_filter.until],
            "transform": [self.transform.drop_fields, self.transform.hash_fields],
            "dedupe_hours": self.dedupe_hours,
        }
        return hashlib.sha256(orjson.dumps(shape)).hexdigest()[:16]


@dataclass
class DeliverySummary:
    """What one delivery did: small, for XCom and logs, never payloads."""

    sink: str
    files: int = 0
    files_delivered: int = 0
    files_already_delivered: int = 0
    files_claimed_elsewhere: int = 0
    files_quarantined: int = 0
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
        values["seconds"] = round(self.seconds, 3)
        return values


class Delivery:
    """Delivers staged files through one sink, with the ledger as the record of what is done."""

    def __init__(
        self, staging: StagingArea, sink: Sink, ledger: Ledger, settings: DeliverySettings, owner: str
    ) -> None:
        self.staging = staging
        self.sink = sink
        self.ledger = ledger
        self.settings = settings
        self.owner = owner
        self.fingerprint = settings.fingerprint(sink)
        self.summary = DeliverySummary(sink=sink.mode)
        self.dedupe = DedupeWindow(settings.dedupe_hours, ledger.load_ids)
        self._started = 0.0
        self._last_progress = 0.0

    def run(self, files: list[StagedFile]) -> DeliverySummary:
        self.ledger.check_writable()
        self._started = self._last_progress = time.monotonic()
        ordered = sorted(files, key=lambda staged: staged.sort_key)
        if self.settings.replay:
            replayed = frozenset(staged.identity for staged in ordered)
            self.dedupe = DedupeWindow(
                self.settings.dedupe_hours, lambda event_type, hour: self.ledger.load_ids(event_type, hour, replayed)
            )
        states = self.ledger.states()
        log.info("Delivering %d staged file(s) through the %s sink", len(ordered), self.sink.mode)
        for number, staged in enumerate(ordered, start=1):
            self.dedupe.evict_before(staged.queue_hour.int_timestamp // 3600)
            if self._already_done(staged, states.get(staged.identity)):
                self.summary.files_already_delivered += 1
                continue
            if not self.ledger.claim(staged, self.owner, self.settings.claim_ttl):
                log.info("Skipping %s: another run holds its claim", staged.key)
                self.summary.files_claimed_elsewhere += 1
                continue
            try:
                if self._already_done(staged, self._state_of(staged)):
                    self.summary.files_already_delivered += 1
                    continue
                self._deliver_file(staged)
            finally:
                self.ledger.release(staged, self.owner)
            self._log_progress(number, len(ordered))
        self.summary.seconds = time.monotonic() - self._started
        self._log_progress(len(ordered), len(ordered), force=True)
        if self.settings.replay:
            self.ledger.record_replay(
                self.settings.generation,
                {"owner": self.owner, "files": [staged.key for staged in ordered], "summary": self.summary.to_dict()},
            )
        return self.summary

    def _state_of(self, staged: StagedFile) -> str | None:
        """The state as of now, read after claiming: another run may have finished the file meanwhile."""
        progress = self.ledger.progress(staged)
        if progress is None or not progress.finished:
            return None
        return QUARANTINED if progress.error or progress.counts.get("quarantined") else DELIVERED

    def _already_done(self, staged: StagedFile, state: str | None) -> bool:
        """Finished files are skipped; a replay only skips what this replay generation finished."""
        if state is None:
            return False
        if not self.settings.replay:
            return True
        progress = self.ledger.progress(staged)
        return progress is not None and progress.finished and progress.generation == self.settings.generation

    def _deliver_file(self, staged: StagedFile) -> None:
        progress = self.ledger.progress(staged)
        resumable = (
            progress is not None
            and not progress.finished
            and progress.fingerprint == self.fingerprint
            and progress.generation == self.settings.generation
        )
        if not resumable:
            progress = FileProgress(
                key=staged.key,
                size=staged.size,
                etag=staged.etag,
                event_type=staged.event_type,
                queue_hour=staged.queue_hour.isoformat(),
                fingerprint=self.fingerprint,
                generation=self.settings.generation,
            )
        elif progress.batches_acked:
            log.info("Resuming %s after %d acknowledged batch(es)", staged.key, progress.batches_acked)
        counts: Counter = Counter()
        invalid: list[dict] = []
        ids: list[str] = []
        batcher = self.sink.batcher()
        is_duplicate = self.dedupe.checker(staged.event_type, staged.queue_hour.int_timestamp // 3600)
        reason_to_drop = self.settings.event_filter.reason_to_drop
        transform = self.settings.transform.apply if self.settings.transform else None
        encode = self.sink.encode
        try:
            for event in self.staging.iter_events(staged):
                if isinstance(event, BadEvent):
                    invalid.append({"reason": event.reason, "record_index": event.record_index, "event": event.record})
                    continue
                counts["read"] += 1
                ids.append(event["id"])
                reason = reason_to_drop(event)
                if reason is not None:
                    counts[f"filtered_{reason}"] += 1
                    continue
                if is_duplicate(event["id"]):
                    counts["duplicates"] += 1
                    continue
                if transform is not None:
                    transform(event)
                try:
                    route, item = encode(event)
                    closed = batcher.add(route, item, event)
                except (EventEncodeError, OversizeEvent) as error:
                    invalid.append({"reason": str(error), "event": event})
                    continue
                for batch in closed:
                    self._send(staged, batch, progress, counts)
        except CorruptFileError as error:
            progress.error = str(error)
            self.ledger.quarantine(
                staged, "file", {"reason": error.reason, "record_index": error.record_index, "line": error.line}
            )
            log.error("Quarantined %s: %s; the %d event(s) before the fault are delivered", staged.key, error,
                      counts["read"])
        for batch in batcher.flush():
            self._send(staged, batch, progress, counts)
        if invalid:
            counts["quarantined"] += len(invalid)
            self.ledger.quarantine(staged, f"invalid-{progress.generation}", {"events": invalid})
        self.ledger.save_ids(staged, ids)
        progress.finished = True
        progress.counts = dict(counts)
        self.ledger.save_progress(staged, progress)
        quarantined = bool(progress.error or counts["quarantined"])
        self.ledger.set_state(staged, QUARANTINED if quarantined else DELIVERED)
        self._count_file(counts, quarantined)

    def _send(self, staged: StagedFile, batch: Batch, progress: FileProgress, counts: Counter) -> None:
        batch.key = hashlib.sha256(
            f"{staged.identity}:{self.fingerprint}:{progress.generation}:{batch.index}".encode()
        ).hexdigest()[:32]
        if batch.index < progress.batches_acked:
            counts["already_acknowledged"] += len(batch.items)
            return
        result = self.sink.send(batch)
        counts["sent"] += result.accepted
        self.summary.batches += 1
        self.summary.retries += result.retries
        self.summary.requests += result.requests
        if result.rejected:
            counts["quarantined"] += len(result.rejected)
            self.ledger.quarantine(
                staged,
                f"batch-{progress.generation}-{batch.index}",
                {"events": [{"reason": rejection.reason, "event": rejection.event} for rejection in result.rejected]},
            )
        progress.batches_acked = batch.index + 1
        progress.counts = dict(counts)
        self.ledger.save_progress(staged, progress)

    def _count_file(self, counts: Counter, quarantined: bool) -> None:
        summary = self.summary
        summary.files += 1
        summary.files_quarantined += quarantined
        summary.files_delivered += not quarantined
        summary.events_read += counts["read"]
        summary.events_sent += counts["sent"]
        summary.events_already_acknowledged += counts["already_acknowledged"]
        summary.duplicates += counts["duplicates"]
        summary.quarantined += counts["quarantined"]
        for name, value in counts.items():
            if name.startswith("filtered_"):
                summary.filtered[name.removeprefix("filtered_")] += value

    def _log_progress(self, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < self.settings.progress_interval:
            return
        self._last_progress = now
        elapsed = max(now - self._started, 1e-9)
        summary = self.summary
        log.info(
            "Progress: %d/%d files, %d events read, %d sent (%.0f events/s), %d batches, %d retries, "
            "%d duplicates, %d quarantined",
            done, total, summary.events_read, summary.events_sent, summary.events_read / elapsed,
            summary.batches, summary.retries, summary.duplicates, summary.quarantined,
        )


def plan_event_type_groups(files: list[StagedFile], target_bytes: int = 256 << 20) -> list[list[str]]:
    """Event-type groups for mapped tasks: seconds of work each, never one small file per task.

    An event type is never split across groups, because Braze's duplicates never cross event types and
    dedupe then stays within one task. Small types are packed together up to `target_bytes`.
    """
    sizes: Counter = Counter()
    for staged in files:
        sizes[staged.event_type] += max(staged.size, 1)
    groups: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for event_type, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        if current and current_bytes + size > target_bytes:
            groups.append(current)
            current, current_bytes = [], 0
        current.append(event_type)
        current_bytes += size
    if current:
        groups.append(current)
    return groups


def requeue_quarantined(ledger: Ledger, sink: Sink, *, discard: bool = False) -> dict:
    """Send quarantined events again (after the cause is fixed), or `discard` them on purpose.

    Events accepted now leave the quarantine; events rejected again stay, with the new reason. A file
    whose quarantine is empty is marked delivered. Unreadable-file records only leave with `discard`.
    Batch identities come from the record's path and content, so a crashed requeue repeated with the
    import sink sends nothing twice.
    """
    outcome: Counter = Counter()
    touched: dict[str, StagedFile] = {}
    for path, record in ledger.quarantined():
        staged = StagedFile.from_dict(record["staged"])
        touched[staged.identity] = staged
        if discard:
            ledger.record_discard(path, record)
            ledger.resolve_quarantine(path)
            outcome["discarded_records"] += 1
            continue
        entries = record.get("events", ())
        if not entries:
            outcome["records_kept"] += 1
            continue
        rejected: list[dict] = []
        events = []
        for entry in entries:
            try:
                events.append(normalise_http_event(entry["event"], staged.event_type))
            except InvalidEvent as error:
                rejected.append({"reason": str(error), "event": entry["event"]})
        batcher = sink.batcher()
        batches: list[Batch] = []
        for event in events:
            try:
                route, item = sink.encode(event)
                batches.extend(batcher.add(route, item, event))
            except (EventEncodeError, OversizeEvent) as error:
                rejected.append({"reason": str(error), "event": event})
        batches.extend(batcher.flush())
        for batch in batches:
            batch.key = hashlib.sha256(f"requeue:{path}:{batch.index}:".encode() + b"".join(batch.items)).hexdigest()[:32]
            result = sink.send(batch)
            outcome["sent"] += result.accepted
            rejected.extend({"reason": rejection.reason, "event": rejection.event} for rejection in result.rejected)
        outcome["rejected_again"] += len(rejected)
        ledger.resolve_quarantine(path)
        if rejected:
            ledger.quarantine(staged, path.rsplit("/", 1)[1].removesuffix(".json"), {"events": rejected})
    still_quarantined = {record["identity"] for _, record in ledger.quarantined()}
    for identity, staged in touched.items():
        if identity not in still_quarantined:
            ledger.set_state(staged, DELIVERED)
            outcome["files_delivered"] += 1
    return dict(outcome)
