"""deliver(files) -> summary: read, filter, dedupe, transform, batch and send staged files through one sink,
recording progress in the ledger after acknowledged batches.

Files are delivered in bundles (see `bundles`), each read as one stream with one claim and one ledger commit.

A retry resumes from the ledger: a bundle of several files is marked open before its first batch, so any
later run rebuilds it from the same files in the same order, skips the batches already acknowledged, and
gives each batch its identity (`Batch.key`) again, so the Import API drops any batch that TD stored before
the failure. Batches are sent on a sender thread while the next ones are read; each acknowledgement is
recorded after TD's answer and in batch order, so a crash resends at most the batch in flight (postback),
or batches the Import API drops again (import, whose progress is recorded at most once a second). The
Import API's batches go out several at a time (`Sink.requests_in_flight`), their acknowledgements still
recorded in order. A bundle is committed on the sender thread too, after its last batch, so reading the
next bundle never waits for TD's answer to the last one.
"""

from __future__ import annotations

import contextlib
import logging
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

from airflow_braze_td.currents.decode import BadEvent, CorruptFileError
from airflow_braze_td.currents.events import EventColumns, EventRow
from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.currents.staging import COLUMNAR, FileEvents, StagingArea
from airflow_braze_td.delivery.batching import Batch, Batcher
from airflow_braze_td.delivery.bundles import bundles_to_resume, delivery_order, plan_bundles
from airflow_braze_td.delivery.collector import fewer_collections
from airflow_braze_td.delivery.filters import HASH_TYPECODE, DedupeWindow
from airflow_braze_td.delivery.ledger import DELIVERED, QUARANTINED, FileProgress, FileState, Ledger
from airflow_braze_td.delivery.sender import Sender
from airflow_braze_td.delivery.settings import DeliverySettings, DeliverySummary
from airflow_braze_td.delivery.sink import EventEncodeError, SendResult, Sink, event_dict
from airflow_braze_td.identities import batch_key, bundle_name, id_hash

log = logging.getLogger(__name__)

IDEMPOTENT_CHECKPOINT_SECONDS = 1.0


@dataclass
class _Member:
    """One file of a bundle: what reading it found."""

    staged: StagedFile
    id_hashes: array = field(default_factory=lambda: array(HASH_TYPECODE))
    counts: Counter = field(default_factory=Counter)
    invalid: list[dict] = field(default_factory=list)
    error: str | None = None

    @property
    def quarantined(self) -> bool:
        return bool(self.error or self.counts["quarantined"])



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
        self._started = 0.0
        self._last_progress = 0.0
        # Claim tokens of bundles read and not yet committed; what is left when a run fails is released.
        self._held_claims: set[str] = set()

    def run(self, files: list[StagedFile]) -> DeliverySummary:
        self.ledger.check_writable()
        self._started = self._last_progress = time.monotonic()
        ordered = sorted(files, key=delivery_order)
        known = self.ledger.file_states()
        todo = [staged for staged in ordered if not self._already_done(staged, known.get(staged.identity))]
        # Ids the ledger holds for files this run (re)delivers are not "seen": a try killed after saving a
        # bundle's ids but before its state, or a replay, must not count that bundle's own events as duplicates.
        delivering = frozenset(staged.identity for staged in todo)
        self.dedupe = DedupeWindow(self.settings.dedupe_hours,
                                   lambda event_type, hour: self.ledger.load_id_hashes(event_type, hour, delivering),
                                   self.ledger.id_hours)
        self.summary.files_already_delivered += len(ordered) - len(todo)
        log.info("Delivering %d staged file(s) through the %s sink", len(todo), self.sink.mode)
        done = len(ordered) - len(todo)
        in_flight = self.settings.requests_in_flight or self.sink.requests_in_flight
        self.sink.reserve_connections(in_flight)
        sender = Sender(in_flight)
        # The files are fetched ahead in the order every bundle will read them, across bundles, so a GET's
        # round trip never stalls the reading, not even at a bundle's first file.
        resumed = bundles_to_resume(self.ledger, known, delivering, self.fingerprint, self.settings.generation)
        bundles = list(plan_bundles(todo, resumed))
        self._reader = self.staging.reading_pool()
        self._reading = self.staging.read_ahead([staged for bundle in bundles for staged in bundle], self._reader)
        try:
            with fewer_collections:
                for bundle in bundles:
                    self._claim_and_deliver(bundle, sender)
                    done += len(bundle)
                    self._log_progress(done, len(ordered))
                sender.close()
        except BaseException:
            sender.abort()
            for token in self._held_claims:
                with contextlib.suppress(OSError):  # an unreleased claim only expires; the first error matters
                    self.ledger.release_claim(token)
            self._held_claims.clear()
            raise
        finally:
            self._reader.shutdown(wait=True, cancel_futures=True)
            self.ledger.close_journals()
        self.summary.seconds = time.monotonic() - self._started
        self._log_progress(len(ordered), len(ordered), force=True)
        if self.summary.files_fastavro:
            log.info("%d Avro file(s) read by fastavro, not the columnar reader (%d): %s",
                     sum(self.summary.files_fastavro.values()), self.summary.files_columnar,
                     ", ".join(f"{count} {reason}" for reason, count in self.summary.files_fastavro.most_common()))
        if self.settings.replay:
            self.ledger.record_replay(
                self.settings.generation,
                {"owner": self.owner, "files": [staged.key for staged in ordered], "summary": self.summary.to_dict()},
            )
        return self.summary

    def _already_done(self, staged: StagedFile, found: FileState | None) -> bool:
        """Finished files are skipped; a replay only skips what this replay generation finished."""
        if found is None:
            return False
        if not self.settings.replay:
            return True
        if found.generation is not None:
            return found.generation == self.settings.generation
        progress = self.ledger.progress(staged)
        return progress is not None and progress.finished and progress.generation == self.settings.generation


    def _claim_and_deliver(self, files: list[StagedFile], sender: Sender) -> None:
        """Claim the bundle's files and read them into batches for the sender; the sender commits the bundle
        and releases the claim after the last batch."""
        claimed, token = self.ledger.claim_files(files, self.owner, self.settings.claim_ttl)
        if len(claimed) < len(files):
            log.info("Skipping %d file(s) from %s: another run holds their claim", len(files) - len(claimed),
                     files[0].key)
            self.summary.files_claimed_elsewhere += len(files) - len(claimed)
        if token is None:
            return
        self._held_claims.add(token)
        # As of now: another run may have finished some of them meanwhile.
        known = self.ledger.file_states((staged.identity for staged in claimed), claimed[0].event_type)
        mine = [staged for staged in claimed if not self._already_done(staged, known.get(staged.identity))]
        self.summary.files_already_delivered += len(claimed) - len(mine)
        if mine:
            self._deliver_bundle(mine, known, token, sender)
        else:
            sender.submit(lambda _: self._release_claim(token))

    def _release_claim(self, token: str) -> None:
        self.ledger.release_claim(token)
        self._held_claims.discard(token)

    def _bundle_name(self, files: list[StagedFile]) -> str:
        """A bundle of one file is named by the file; a bigger one by its files and the settings."""
        if len(files) == 1:
            return files[0].identity
        return bundle_name(self.fingerprint, self.settings.generation, (staged.identity for staged in files))

    def _deliver_bundle(self, files: list[StagedFile], known: dict[str, FileState], token: str,
                        sender: Sender) -> None:
        bundle = self._bundle_name(files)
        generation = self.settings.generation
        progress = self.ledger.bundle_progress(bundle)
        resumable = (
            progress is not None
            and not progress.finished
            and progress.fingerprint == self.fingerprint
            and progress.generation == generation
        )
        first = files[0]
        if not resumable:
            progress = FileProgress(
                key=first.key,
                size=sum(staged.size for staged in files),
                etag=first.etag if len(files) == 1 else None,
                event_type=first.event_type,
                queue_hour=first.queue_hour.isoformat(),
                fingerprint=self.fingerprint,
                generation=generation,
            )
            if len(files) > 1:
                self.ledger.open_bundle(bundle, {"fingerprint": self.fingerprint, "generation": generation,
                                                 "files": [staged.to_dict() for staged in files]})
        elif progress.batches_acked:
            log.info("Resuming %s after %d acknowledged batch(es)", first.key, progress.batches_acked)
        members: list[_Member] = []
        totals: Counter = Counter()
        state = _SendState(bundle, progress, members, totals, time.monotonic())
        batcher = self.sink.batcher()
        for staged in files:
            events = self._events_of(staged)
            member = _Member(staged)
            members.append(member)
            self._read_member(member, events, batcher, sender, state)
        for batch in batcher.flush():
            self._submit(sender, batch, state)
        sender.submit(lambda _: self._finish_bundle(bundle, members, progress, totals, known, token))

    def _events_of(self, staged: StagedFile) -> FileEvents:
        """`staged`'s events from the run's read-ahead; files before it that are not read (claimed by another
        run, or finished meanwhile) are passed over."""
        for fetched, events in self._reading:
            if fetched.identity == staged.identity:
                return events
        raise RuntimeError(f"{staged.key} is not in the run's reading order")

    def _submit(self, sender: Sender, batch: Batch, state: _SendState) -> None:
        sender.submit(partial(self._record, batch, state), partial(self._send, batch, state))

    def _read_member(self, member: _Member, events: FileEvents, batcher: Batcher, sender: Sender,
                     state: _SendState) -> None:
        """Read one file of the bundle into the batcher: the hot loop, one pass per event, or per row of a
        block of events held as columns, whose events are encoded by the sink from the columns and made into
        dicts only if TD refuses one (or a transform has to change them)."""
        staged = member.staged
        hour = staged.queue_hour_timestamp // 3600
        self.dedupe.evict_before(staged.event_type, hour)
        new_id_hash = self.dedupe.checker(staged.event_type, hour)
        event_filter = self.settings.event_filter
        reason_to_drop, reasons_for = event_filter.reason_to_drop, event_filter.reasons
        transform = self.settings.transform.apply if self.settings.transform else None
        encode, encode_columns, submit = self.sink.encode, self.sink.encode_columns, self._submit
        add, add_all = batcher.add, batcher.add_all
        invalid, filtered = member.invalid, Counter()
        keep_id_hash = member.id_hashes.append
        read = duplicates = 0

        def batch(route: str, item: bytes, event: dict | EventRow) -> None:
            try:
                closed = add(route, item, event)
            except EventEncodeError as error:
                invalid.append({"reason": str(error), "event": event_dict(event)})
                return
            for full in closed:
                submit(sender, full, state)

        def deliver(event: dict) -> None:
            if transform is not None:
                transform(event)
            try:
                route, item = encode(event)
            except EventEncodeError as error:
                invalid.append({"reason": str(error), "event": event})
                return
            batch(route, item, event)

        try:
            for part in events.parts():
                if type(part) is EventColumns:
                    read += len(part)
                    sent = []
                    reasons = reasons_for(part.event_type, part.user.get("external_user_id"), part.times)
                    for row, (reason, event_id) in enumerate(zip(reasons, part.ids)):
                        if reason is not None:
                            filtered[reason] += 1
                            continue
                        hashed = new_id_hash(event_id)
                        if hashed is None:
                            duplicates += 1
                            continue
                        keep_id_hash(hashed)
                        sent.append(row)
                    items = None
                    if transform is None and sent:
                        with contextlib.suppress(EventEncodeError):  # each event is encoded alone below
                            route, items = encode_columns(part, sent)
                    if items is None:
                        for event in part.take(sent).events():
                            deliver(event)
                        continue
                    try:
                        for full in add_all(route, items, [EventRow(part, row) for row in sent]):
                            submit(sender, full, state)
                    except EventEncodeError:  # an item too big to send: each is added alone, to set it aside
                        for row, item in zip(sent, items):
                            batch(route, item, EventRow(part, row))
                    continue
                if type(part) is BadEvent:
                    invalid.append({"reason": part.reason, "record_index": part.record_index, "event": part.record})
                    continue
                read += 1
                reason = reason_to_drop(part)
                if reason is not None:
                    filtered[reason] += 1
                    continue
                hashed = new_id_hash(part["id"])
                if hashed is None:
                    duplicates += 1
                    continue
                keep_id_hash(hashed)
                deliver(part)
        except CorruptFileError as error:
            member.error = str(error)
            self.ledger.quarantine(
                staged, "file", {"reason": error.reason, "record_index": error.record_index, "line": error.line}
            )
            log.error("Quarantined %s: %s; the %d event(s) before the fault are delivered", staged.key, error, read)
        if events.reader == COLUMNAR:
            self.summary.files_columnar += 1
        elif events.refusal is not None:
            self.summary.files_fastavro[events.refusal] += 1
        counts = member.counts
        counts["read"] += read
        counts["duplicates"] += duplicates
        for reason, value in filtered.items():
            counts[f"filtered_{reason}"] += value

    def _send(self, batch: Batch, state: _SendState) -> SendResult | None:
        """Send one batch (on a sending thread); None for a batch acknowledged before this try."""
        progress = state.progress
        batch.key = batch_key(state.bundle, self.fingerprint, progress.generation, batch.index)
        if batch.index < progress.batches_acked:
            return None
        return self.sink.send(batch)

    def _record(self, batch: Batch, state: _SendState, result: SendResult | None) -> None:
        """Record one batch's acknowledgement (on the ordered thread, in batch order)."""
        progress = state.progress
        if result is None:
            state.totals["already_acknowledged"] += len(batch.items)
            return
        state.totals["sent"] += result.accepted
        self.summary.batches += 1
        self.summary.retries += result.retries
        self.summary.requests += result.requests
        if result.rejected:
            self._quarantine_rejected(batch, result.rejected, state)
        progress.batches_acked = batch.index + 1
        now = time.monotonic()
        if self.sink.idempotent and now - state.checkpointed < IDEMPOTENT_CHECKPOINT_SECONDS:
            return
        state.checkpointed = now
        progress.counts = dict(state.totals)
        self.ledger.record_ack(state.bundle, progress)

    def _quarantine_rejected(self, batch: Batch, rejected: list, state: _SendState) -> None:
        """Keep the events TD refused under the file each came from."""
        owner_of: dict[int, _Member] = {}
        for member in reversed(list(state.members)):
            owner_of.update(dict.fromkeys(member.id_hashes, member))
        by_member: dict[int, list[dict]] = {}
        for rejection in rejected:
            event_id = rejection.event.get("id")
            member = owner_of.get(id_hash(event_id), state.members[0]) if event_id else state.members[0]
            member.counts["quarantined"] += 1
            by_member.setdefault(id(member), []).append({"reason": rejection.reason, "event": rejection.event})
        for member in state.members:
            entries = by_member.get(id(member))
            if entries:
                self.ledger.quarantine(member.staged, f"batch-{state.progress.generation}-{batch.index}",
                                       {"events": entries})

    def _finish_bundle(self, bundle: str, members: list[_Member], progress: FileProgress, totals: Counter,
                       known: dict[str, FileState], token: str) -> None:
        """Quarantine what could not be sent, then commit the bundle (ids, progress, states) and release its
        claim. Runs on the sender thread, after the bundle's last batch."""
        ids: dict[tuple[str, int], dict[str, array]] = {}
        for member in members:
            staged = member.staged
            if member.invalid:
                member.counts["quarantined"] += len(member.invalid)
                self.ledger.quarantine(staged, f"invalid-{progress.generation}", {"events": member.invalid})
            hour = staged.queue_hour_timestamp // 3600
            ids.setdefault((staged.event_type, hour), {})[staged.identity] = member.id_hashes
            totals.update(member.counts)
        self.ledger.save_bundle_ids(bundle, ids)
        errors = [member.error for member in members if member.error]
        progress.finished = True
        progress.error = "; ".join(errors) if errors else None
        progress.counts = dict(totals)
        progress.members = [
            {"identity": m.staged.identity, "key": m.staged.key, "counts": dict(m.counts), "error": m.error}
            for m in members
        ] if len(members) > 1 else []
        self.ledger.save_bundle_progress(bundle, progress)
        states = {m.staged.identity: QUARANTINED if m.quarantined else DELIVERED for m in members}
        marked = [m.staged.identity for m in members
                  if (found := known.get(m.staged.identity)) is not None and found.generation is None]
        self.ledger.finish_bundle(bundle, progress.event_type, progress.generation, states, marked)
        self._count_bundle(members, totals)
        self._release_claim(token)

    def _count_bundle(self, members: list[_Member], totals: Counter) -> None:
        summary = self.summary
        for member in members:
            summary.files += 1
            summary.files_quarantined += member.quarantined
            summary.files_delivered += not member.quarantined
        summary.events_read += totals["read"]
        summary.events_sent += totals["sent"]
        summary.events_already_acknowledged += totals["already_acknowledged"]
        summary.duplicates += totals["duplicates"]
        summary.quarantined += totals["quarantined"]
        for name, value in totals.items():
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


@dataclass
class _SendState:
    """What the sender thread updates for one bundle."""

    bundle: str
    progress: FileProgress
    members: list[_Member]
    totals: Counter
    checkpointed: float
