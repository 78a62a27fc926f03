"""deliver(files) -> summary: read, filter, dedupe, transform, batch and send staged files through one sink,
recording progress in the ledger after acknowledged batches.

Files are delivered in bundles: consecutive files (in `delivery_order`) read as one stream, with one claim,
batches that span the files, and one ledger commit when the bundle is done. Braze closes a file every
5 minutes per partition, so a busy workspace stages thousands of small files an hour, and per-file claims,
requests and ledger writes would cost more than the events. A bundle holds one event type, so a failure on
one type's table never holds back another type's files, and no batch mixes event types. A bundle may span
hours: a day's files of one event type are consecutive in delivery order, so a small type's backlog makes
about one bundle a day rather than one an hour. Bundles grow from one file (so concurrent runs share the
work) up to `BUNDLE_MAX_FILES` files or `BUNDLE_MAX_BYTES`; a big file is a bundle of its own.

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
import gc
import logging
import queue
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from airflow_braze_td.currents.decode import BadEvent, CorruptFileError
from airflow_braze_td.currents.events import InvalidEvent, normalise_http_event
from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.currents.staging import READ_AHEAD_FILES, StagingArea
from airflow_braze_td.delivery.batching import Batch, Batcher
from airflow_braze_td.delivery.filters import (
    DEFAULT_DEDUPE_HOURS,
    HASH_TYPECODE,
    DedupeWindow,
    EventFilter,
    FieldTransform,
    id_hash,
)
from airflow_braze_td.delivery.ledger import DELIVERED, FIRST_GENERATION, QUARANTINED, FileProgress, FileState, Ledger
from airflow_braze_td.delivery.sink import EventEncodeError, SendResult, Sink
from airflow_braze_td.identities import batch_key, bundle_name, requeue_batch_key, settings_fingerprint

log = logging.getLogger(__name__)


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


BUNDLE_MAX_FILES = 512
BUNDLE_MAX_BYTES = 8 << 20
DELIVERY_DAY_SECONDS = 24 * 3600
IDEMPOTENT_CHECKPOINT_SECONDS = 1.0
SEND_QUEUE_DEPTH = 2


def delivery_order(staged: StagedFile) -> tuple:
    """Oldest UTC day first; within a day, one event type at a time, hour by hour.

    A day's files of one event type are consecutive, so a small type's backlog fills one bundle (one claim,
    one commit, full batches) rather than one per hour, and a backlog of several days still goes oldest
    day first. Each event type's files stay in queue-hour order, which is what dedupe relies on.
    """
    return (staged.queue_hour_timestamp // DELIVERY_DAY_SECONDS, staged.event_type, staged.sort_key)


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


class _Sender:
    """Sends batches, up to `in_flight` at once, while the caller reads on, and runs what follows each send
    (recording its acknowledgement, committing a bundle) on one thread, in submission order.

    With one request in flight the send runs on that ordered thread too, and up to `depth` jobs wait. With
    more, they are sent on a pool (hiding Treasure Data's answer time) and a new send starts only while
    fewer than `in_flight` are sent and not yet recorded, so a failure leaves at most `in_flight - 1`
    later batches delivered and unrecorded. After a failure nothing more is recorded, and the error is
    raised to the caller at its next `submit` or at `close`. Jobs still queued when the caller fails are
    dropped (a retry resumes their bundles).
    """

    def __init__(self, in_flight: int = 1, depth: int = SEND_QUEUE_DEPTH) -> None:
        self._pool = ThreadPoolExecutor(in_flight, thread_name_prefix="td-send") if in_flight > 1 else None
        self._window = threading.Semaphore(in_flight)
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=depth + in_flight - 1)
        self._error: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="td-sender", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            send, then, sent = job
            try:
                if self._error is None and not self._stopped:
                    then(sent.result() if sent is not None else send() if send is not None else None)
                elif sent is not None:
                    sent.cancel()
            except BaseException as error:  # handed to the caller's thread
                self._error = error
            finally:
                if sent is not None:
                    self._window.release()

    def submit(self, then: Callable[[Any], None], send: Callable[[], Any] | None = None) -> None:
        """Run `then(send())`: `send` on a sending thread, `then` in submission order."""
        if self._error is not None:
            raise self._error
        sent = None
        if self._pool is not None and send is not None:
            self._window.acquire()
            if self._error is not None:  # it failed while this waited for room
                self._window.release()
                raise self._error
            sent = self._pool.submit(send)
        self._queue.put((send, then, sent))

    def close(self) -> None:
        """Wait until every submitted job has run; raise the first failure."""
        self._queue.put(None)
        self._thread.join()
        self._shutdown()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop after the requests in flight; drop the rest."""
        self._stopped = True
        self._queue.put(None)
        self._thread.join()
        self._shutdown()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


_Job = tuple[Callable[[], Any] | None, Callable[[Any], None], Future | None]


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
        sender = _Sender(in_flight)
        # The files are fetched ahead in the order every bundle will read them, across bundles, so a GET's
        # round trip never stalls the reading, not even at a bundle's first file.
        bundles = list(self._bundles(todo, delivering, known))
        self._reader = ThreadPoolExecutor(READ_AHEAD_FILES, thread_name_prefix="staging-read")
        self._reading = self.staging.read_ahead([staged for bundle in bundles for staged in bundle], self._reader)
        try:
            with _fewer_collections:
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

    def _bundles(self, todo: list[StagedFile], delivering: frozenset[str],
                 known: dict[str, FileState]) -> Iterator[list[StagedFile]]:
        """Bundles in delivery order. Open bundles that hold pending files come whole and as they were, each at
        its place in that order; between them come new bundles of one event type each, growing, never reaching
        past the next open bundle.

        A retry must read the files in the order the failed try did: several bundles can be unfinished at a
        kill (one read while the one before is sent), and read in another order, dedupe would keep a
        duplicate in a different bundle, so batches already sent would not be the ones rebuilt.

        `delivering` holds the identities of `todo`; only the files of resumed bundles (usually none) get a
        set of their own, as a second set of every pending identity weighs as much as the first.
        """
        taken: set[str] = set()
        resumed: list[list[StagedFile]] = []
        for bundle, details in self.ledger.open_bundles():
            members = [StagedFile.from_dict(item) for item in details.get("files", ())]
            if all(member.identity in known for member in members):
                self.ledger.close_bundle(bundle)
                continue
            same_settings = (details.get("fingerprint"), details.get("generation")) == (
                self.fingerprint, self.settings.generation)
            if same_settings and any(member.identity in delivering and member.identity not in taken
                                     for member in members):
                taken.update(member.identity for member in members)
                resumed.append(members)
        resumed.sort(key=lambda members: delivery_order(members[0]), reverse=True)
        rest = [staged for staged in todo if staged.identity not in taken] if taken else todo
        size = 1
        start = 0
        while start < len(rest) or resumed:
            if resumed and (start == len(rest) or delivery_order(resumed[-1][0]) < delivery_order(rest[start])):
                members = resumed.pop()
                log.info("Resuming an open bundle of %d file(s), from %s", len(members), members[0].key)
                yield members
                continue
            limit = delivery_order(resumed[-1][0]) if resumed else None
            end, nbytes = start + 1, rest[start].size
            while (end < len(rest) and end - start < size and nbytes + rest[end].size <= BUNDLE_MAX_BYTES
                   and rest[end].event_type == rest[start].event_type
                   and (limit is None or delivery_order(rest[end]) < limit)):
                nbytes += rest[end].size
                end += 1
            yield rest[start:end]
            start, size = end, min(size * 2, BUNDLE_MAX_FILES)

    def _claim_and_deliver(self, files: list[StagedFile], sender: _Sender) -> None:
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
                        sender: _Sender) -> None:
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

    def _events_of(self, staged: StagedFile) -> Iterator[dict | BadEvent]:
        """`staged`'s events from the run's read-ahead; files before it that are not read (claimed by another
        run, or finished meanwhile) are passed over."""
        for fetched, events in self._reading:
            if fetched.identity == staged.identity:
                return events
        raise RuntimeError(f"{staged.key} is not in the run's reading order")

    def _submit(self, sender: _Sender, batch: Batch, state: _SendState) -> None:
        sender.submit(partial(self._record, batch, state), partial(self._send, batch, state))

    def _read_member(self, member: _Member, events: Iterator[dict | BadEvent], batcher: Batcher, sender: _Sender,
                     state: _SendState) -> None:
        """Read one file of the bundle into the batcher: the hot loop, one pass per event."""
        staged = member.staged
        hour = staged.queue_hour_timestamp // 3600
        self.dedupe.evict_before(staged.event_type, hour)
        new_id_hash = self.dedupe.checker(staged.event_type, hour)
        reason_to_drop = self.settings.event_filter.reason_to_drop
        transform = self.settings.transform.apply if self.settings.transform else None
        encode, add, submit = self.sink.encode, batcher.add, self._submit
        invalid, filtered = member.invalid, Counter()
        keep_id_hash = member.id_hashes.append
        read = duplicates = 0
        try:
            for event in events:
                if type(event) is BadEvent:
                    invalid.append({"reason": event.reason, "record_index": event.record_index, "event": event.record})
                    continue
                read += 1
                reason = reason_to_drop(event)
                if reason is not None:
                    filtered[reason] += 1
                    continue
                hashed = new_id_hash(event["id"])
                if hashed is None:
                    duplicates += 1
                    continue
                keep_id_hash(hashed)
                if transform is not None:
                    transform(event)
                try:
                    route, item = encode(event)
                    closed = add(route, item, event)
                except EventEncodeError as error:
                    invalid.append({"reason": str(error), "event": event})
                    continue
                for batch in closed:
                    submit(sender, batch, state)
        except CorruptFileError as error:
            member.error = str(error)
            self.ledger.quarantine(
                staged, "file", {"reason": error.reason, "record_index": error.record_index, "line": error.line}
            )
            log.error("Quarantined %s: %s; the %d event(s) before the fault are delivered", staged.key, error, read)
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


GC_YOUNG_THRESHOLD = 50_000


class _FewerCollections:
    """Run the hot loop with fewer cyclic-garbage collections, and restore the settings after.

    Each event allocates a few dicts that are never cyclic, and a batch holds up to 10,000 of them, so at
    CPython's default threshold (700 allocations) the collector walks the young heap every ~100 events
    and, now and then, all of Airflow's objects: 7-8 % of a delivery's CPU here. Objects alive before the
    run are frozen (never scanned) and the young generation is collected every 50,000 allocations. The
    settings are process-wide, so deliveries running at once in one process share one relaxation: the
    first in saves the settings, the last out restores them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = gc.get_threshold()

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = gc.get_threshold()
                gc.freeze()
                gc.set_threshold(max(self._saved[0], GC_YOUNG_THRESHOLD), *self._saved[1:])
            self._users += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                gc.set_threshold(*self._saved)
                gc.unfreeze()


_fewer_collections = _FewerCollections()


@dataclass
class _SendState:
    """What the sender thread updates for one bundle."""

    bundle: str
    progress: FileProgress
    members: list[_Member]
    totals: Counter
    checkpointed: float


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
            except EventEncodeError as error:
                rejected.append({"reason": str(error), "event": event})
        batches.extend(batcher.flush())
        for batch in batches:
            batch.key = requeue_batch_key(path, batch.index, batch.items)
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
