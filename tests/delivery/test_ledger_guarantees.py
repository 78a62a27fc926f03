"""Claims under concurrency, quarantine and requeue, and the lag the ledger implies."""

from __future__ import annotations

import threading
from array import array
from collections import Counter
from pathlib import Path

import orjson
import pendulum
import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.lag import LagThresholds, judge, lag_report
from airflow_braze_td.delivery.batching import BatchLimits
from airflow_braze_td.identities import id_hash
from airflow_braze_td.delivery.ledger import DELIVERED, QUARANTINED, FileProgress, Ledger
from airflow_braze_td.delivery.pipeline import Delivery
from airflow_braze_td.delivery.requeue import requeue_quarantined
from airflow_braze_td.delivery.settings import DeliverySettings
from airflow_braze_td.emulator import Fault
from airflow_braze_td.treasure_data.errors import TDAuthError
from tests.conftest import open_record, write_avro
from tests.delivery.conftest import delivered_ids, eligible_ids, ledger_in, sink_for

HOUR = pendulum.datetime(2026, 11, 30, 9, tz="UTC")


def _key(offset: int, event_type: str = "users.messages.email.Open", extension: str = "avro") -> str:
    return staged_key(event_type=event_type, queue_hour=HOUR, partition=0, offset=offset, extension=extension)


def test_two_concurrent_deliveries_send_each_file_once(staged_tree, emulator, tmp_path):
    root, staged = staged_tree
    area = StagingArea.from_url(str(root))
    files = area.list().files
    start = threading.Barrier(2)
    summaries = {}

    def run(owner: str) -> None:
        delivery = Delivery(area, sink_for(emulator, "postback"), ledger_in(tmp_path),
                            DeliverySettings(), owner)
        start.wait()
        summaries[owner] = delivery.run(files)

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(summaries) == {"run-1", "run-2"}, "both runs finished without an error"
    raced = sum(summary.files_claimed_elsewhere for summary in summaries.values())
    assert sum(summary.files for summary in summaries.values()) + raced >= staged["files"]
    leftovers = Delivery(area, sink_for(emulator, "postback"), ledger_in(tmp_path),
                         DeliverySettings(), "run-3").run(files)
    assert sum(summary.files for summary in summaries.values()) + leftovers.files == staged["files"]
    landed = delivered_ids(emulator)
    assert set(landed) == set(eligible_ids(root))
    copies = _ids_in_several_files(area)
    assert all(count == 1 for event_id, count in landed.items() if event_id not in copies), (
        "only Braze's own duplicate copies, read by two runs at once, may land twice")
    batches = sum(summary.batches for summary in (*summaries.values(), leftovers))
    assert emulator.count("braze", "currents") == batches


def _ids_in_several_files(area: StagingArea) -> set[str]:
    files_of: dict[str, int] = {}
    for staged in area.list().files:
        for event in area.iter_events(staged):
            files_of[event["id"]] = files_of.get(event["id"], 0) + 1
    return {event_id for event_id, count in files_of.items() if count > 1}


def test_quarantine_keeps_every_bad_input_and_requeue_delivers_it_after_the_fix(emulator, tmp_path):
    staging = tmp_path / "staging"
    write_avro(staging / _key(1), [open_record(n) for n in range(2)])
    good = write_avro(staging / _key(2), [open_record(n) for n in range(100, 400)]).read_bytes()
    (staging / _key(3)).write_bytes(good[: len(good) // 2])
    bodies = [{"event_type": "users.messages.email.Open", "id": "ok-1", "time": 5, "user": {"external_user_id": "e"},
               "properties": {}}, {"event_type": "users.messages.email.Open", "time": 5}]
    (staging / _key(4, extension="json")).write_bytes(orjson.dumps({"events": bodies}))
    emulator.push_faults(Fault(status=400, kind="400"), Fault(status=400, kind="400"))
    area = StagingArea.from_url(str(staging))
    ledger = ledger_in(tmp_path)
    sink = sink_for(emulator, "postback")
    settings = DeliverySettings(requests_in_flight=1)  # the two 400s go to the first batch and its bisection
    summary = Delivery(area, sink, ledger, settings, "run").run(area.list().files)
    assert summary.files_quarantined == 3 and summary.files_delivered == 1
    assert summary.quarantined == 2, "one event rejected by TD, one event without an id"
    states = ledger.states()
    assert sorted(states.values()) == [DELIVERED, QUARANTINED, QUARANTINED, QUARANTINED]
    records = [record for _, record in ledger.quarantined()]
    reasons = " | ".join(orjson.dumps(record).decode() for record in records)
    assert "truncated file" in reasons and "no string `id`" in reasons and "400" in reasons
    truncated = next(record for record in records if record["key"] == _key(3))
    assert 0 < truncated["record_index"] < 300
    report = lag_report(area, ledger, now=HOUR.add(hours=40))
    assert report.quarantined_files == 3 and report.lag_hours == 40
    assert judge(report, LagThresholds()).status == "failed"

    outcome = requeue_quarantined(ledger, sink)
    assert outcome["sent"] == 1 and outcome["rejected_again"] == 1, outcome
    assert sum(1 for state in ledger.states().values() if state == QUARANTINED) == 2
    assert requeue_quarantined(ledger, None, discard=True)["discarded_records"] == 2
    assert set(ledger.states().values()) == {DELIVERED}
    assert list((tmp_path / "ledger" / "discarded").iterdir())
    landed = delivered_ids(emulator)
    assert set(landed.values()) == {1} and "ok-1" in landed and open_record(1)["id"] in landed


def test_lag_waits_inside_the_window_and_succeeds_when_fresh(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    area = StagingArea.from_url(str(root))
    ledger = ledger_in(tmp_path)
    end = pendulum.datetime(2026, 11, 30, 12, tz="UTC")
    pending = lag_report(area, ledger, now=end.add(hours=5))
    assert pending.pending_files and pending.lag_hours == 8.0 and pending.hours_left == 40.0
    assert judge(pending, LagThresholds()).status == "waiting"
    assert judge(pending, LagThresholds(warn_after_hours=6)).warning
    Delivery(area, sink_for(emulator, "import"), ledger, DeliverySettings(), "run").run(
        area.list().files)
    delivered = lag_report(area, ledger, now=end.add(hours=5))
    assert delivered.pending_files == 0 and delivered.lag_hours == 0
    assert judge(delivered, LagThresholds()).status == "delivered"


def test_ledger_location_that_cannot_be_written_stops_before_any_delivery(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    area = StagingArea.from_url(str(root))
    ledger = ledger_in(Path(blocker))
    try:
        Delivery(area, sink_for(emulator, "postback"), ledger, DeliverySettings(), "run").run(
            area.list().files)
    except OSError as error:
        assert "not-a-folder" in str(error)
    else:
        raise AssertionError("a ledger under a file must not be writable")
    assert emulator.requests() == []


def test_ids_left_by_a_try_killed_before_its_state_are_not_duplicates_on_retry(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    area = StagingArea.from_url(str(root))
    ledger = ledger_in(tmp_path)
    first = area.list().files[0]
    hour = first.queue_hour.int_timestamp // 3600
    hashes = array("Q", (id_hash(event["id"]) for event in area.iter_events(first)))
    ledger.save_bundle_ids("killed-bundle", {(first.event_type, hour): {first.identity: hashes}})
    summary = Delivery(area, sink_for(emulator, "import"), ledger, DeliverySettings(),
                       "run").run(area.list().files)
    assert delivered_ids(emulator) == eligible_ids(root)
    assert summary.events_sent == len(eligible_ids(root))


def test_postback_resumes_after_the_last_journalled_acknowledgement(staged_tree, emulator, tmp_path):
    """Acknowledgements go to an appended journal on a local ledger; a try stopped mid-bundle resumes from it
    and sends every eligible event exactly once in all."""
    root, _ = staged_tree
    area = StagingArea.from_url(str(root))
    files = [staged for staged in area.list().files if staged.event_type == "users.messages.email.Open"]
    ledger = ledger_in(tmp_path)
    small_batches = BatchLimits(10, 1 << 19, 1 << 18)
    settings = DeliverySettings(requests_in_flight=1)  # one at a time: nothing lands past the refused batch
    emulator.push_faults(*[Fault(path_prefix="/postback") for _ in range(7)], Fault.http(401, path_prefix="/postback"))
    with pytest.raises(TDAuthError):
        Delivery(area, sink_for(emulator, "postback", limits=small_batches), ledger, settings, "run").run(files)
    journals = list((tmp_path / "ledger" / "files").glob("*.acks"))
    assert len(journals) == 1 and journals[0].read_bytes().count(b"\n") >= 1
    resumed = ledger.bundle_progress(journals[0].name.removesuffix(".acks"))
    assert resumed is not None and resumed.batches_acked >= 2 and not resumed.finished

    Delivery(area, sink_for(emulator, "postback", limits=small_batches), ledger, settings, "run").run(files)
    truth = Counter({event["id"]: 1 for staged in files for event in area.iter_events(staged)
                     if event["user"].get("external_user_id")})
    assert delivered_ids(emulator) == truth
    assert list((tmp_path / "ledger" / "files").glob("*.acks")) == []


def test_a_torn_journal_line_is_ignored_and_a_whole_write_supersedes_the_journal(tmp_path):
    ledger = ledger_in(tmp_path)
    progress = FileProgress(key="k", size=1, etag=None, event_type="t", queue_hour="h", fingerprint="f")
    for acked in (1, 2, 3):
        progress.batches_acked, progress.counts = acked, {"sent": acked * 100}
        ledger.record_ack("bundle", progress)
    ledger.close_journals()
    journal = tmp_path / "ledger" / "files" / "bundle.acks"
    with journal.open("ab") as out:
        out.write(b'{"batches_acked": 4, "cou')
    found = ledger.bundle_progress("bundle")
    assert (found.batches_acked, found.counts) == (3, {"sent": 300})
    progress.finished = True
    ledger.save_bundle_progress("bundle", progress)
    assert not journal.exists()
    assert ledger.bundle_progress("bundle").finished


def test_acknowledgements_are_recorded_in_batch_order_with_several_requests_in_flight(staged_tree, emulator,
                                                                                      tmp_path):
    """With 3 postback requests in flight, the first batch fails (slowly, with a 401) while later ones land:
    those later batches are not recorded, so the retry loses nothing and duplicates at most 2 batches."""
    root, _ = staged_tree
    area = StagingArea.from_url(str(root))
    files = [staged for staged in area.list().files if staged.event_type == "users.messages.email.Open"]
    ledger = ledger_in(tmp_path)
    small_batches = BatchLimits(10, 1 << 19, 1 << 18)
    settings = DeliverySettings(requests_in_flight=3)
    emulator.push_faults(*[Fault(path_prefix="/postback") for _ in range(4)],
                         Fault.http(401, delay=0.5, path_prefix="/postback"))
    with pytest.raises(TDAuthError):
        Delivery(area, sink_for(emulator, "postback", limits=small_batches), ledger, settings, "run").run(files)
    first_try = sum(delivered_ids(emulator).values())
    assert first_try > 0  # the four batches before the 401 (a bundle's last batch may hold fewer than 10)

    Delivery(area, sink_for(emulator, "postback", limits=small_batches), ledger, settings, "run").run(files)
    truth = {event["id"] for staged in files for event in area.iter_events(staged)
             if event["user"].get("external_user_id")}
    landed = delivered_ids(emulator)
    assert set(landed) == truth
    assert sum(landed.values()) - len(truth) <= 2 * 10


class _ListingCacheFileSystem(LocalFileSystem):
    """A local disk that answers a folder listing from its first answer unless asked to refresh, as the
    object-store filesystems (s3fs, gcsfs, adlfs) do by default."""

    cachable = False

    def __init__(self) -> None:
        super().__init__()
        self.listings: dict[str, list] = {}

    def ls(self, path, detail=False, refresh=False, **kwargs):
        if refresh or path not in self.listings:
            self.listings[path] = super().ls(path, detail=detail, **kwargs)
        return self.listings[path]


def test_another_workers_states_and_claims_are_seen_through_a_listing_cache(staged_tree, tmp_path):
    root, _ = staged_tree
    listed = StagingArea.from_url(str(root)).list().files
    files = [staged for staged in listed if staged.event_type == listed[0].event_type][:3]
    assert len(files) == 3
    folder = str(tmp_path / "ledger")
    mine, theirs = Ledger(_ListingCacheFileSystem(), folder), ledger_in(tmp_path)
    theirs.finish_bundle("earlier-bundle", files[0].event_type, "0", {files[2].identity: DELIVERED})
    assert mine.file_states([files[0].identity], files[0].event_type) == {}
    assert mine.claim_files(files[1:2], "me", 600)[0] == files[1:2]
    theirs.finish_bundle("their-bundle", files[0].event_type, "0", {files[0].identity: DELIVERED})
    theirs.claim_files(files[:1], "them", 600)
    assert mine.file_states([files[0].identity], files[0].event_type)[files[0].identity].state == DELIVERED
    assert mine.claim_files(files[:1], "me", 600) == ([], None)


class _ObjectStore(MemoryFileSystem):
    """Object storage as fsspec presents it (an upload lands whole on close), with its own objects, counting
    renames: on S3, GCS or Azure each is a copy and a delete."""

    cachable = False

    def __init__(self) -> None:
        super().__init__()
        self.store: dict = {}
        self.pseudo_dirs = [""]
        self.renames = 0

    def mv(self, *args, **kwargs):
        self.renames += 1
        return super().mv(*args, **kwargs)


def test_on_object_storage_the_ledger_writes_each_object_straight_to_its_name(staged_tree, emulator):
    root, _ = staged_tree
    area = StagingArea.from_url(str(root))
    files = area.list().files
    store = _ObjectStore()
    ledger = Ledger(store, "/ledger")
    summary = Delivery(area, sink_for(emulator, "postback"), ledger, DeliverySettings(),
                       "run").run(files)
    assert summary.files_delivered == len(files)
    assert set(delivered_ids(emulator)) == set(eligible_ids(root))
    assert store.renames == 0 and not [path for path in store.store if ".tmp-" in path]
    assert {state.state for state in Ledger(store, "/ledger").file_states().values()} == {DELIVERED}
    again = Delivery(area, sink_for(emulator, "postback"), Ledger(store, "/ledger"),
                     DeliverySettings(), "run-2").run(files)
    assert again.files_already_delivered == len(files) and again.batches == 0


def test_a_retry_reads_unfinished_bundles_in_the_order_the_failed_try_did(emulator, tmp_path):
    """A try is stopped (401) after the first batch of file X, while the bundle after it (Y1 + Y2, which repeats
    five of X's ids: Braze duplicates) is already open. The retry must read X before Y again: read Y first and
    dedupe would send those five in Y (twice in all) and rebuild X's sent batch without them (its import id
    already used, so five other events would never land)."""
    root = tmp_path / "staging"
    _write = lambda offset, numbers: write_avro(root / _key(offset), [open_record(n) for n in numbers])  # noqa: E731
    _write(1, range(1, 21))
    _write(2, [*range(1, 6), *range(21, 41)])
    _write(3, range(41, 61))
    area = StagingArea.from_url(str(root))
    files = area.list().files
    ledger = ledger_in(tmp_path)
    limits = BatchLimits(10, 1 << 20, 1 << 20)
    sink = sink_for(emulator, "import", limits=limits)
    sink.client.ensure_table("braze", sink.router("users.messages.email.Open"))
    emulator.push_faults(Fault(path_prefix="/v3/table/import"), Fault.http(401, path_prefix="/v3/table/import"))
    with pytest.raises(TDAuthError):
        Delivery(area, sink, ledger, DeliverySettings(requests_in_flight=1), "run").run(files)
    assert len(list((tmp_path / "ledger" / "open").glob("*.json"))) == 1, "the bundle after X should be open"
    assert sum(delivered_ids(emulator).values()) == 10

    Delivery(area, sink_for(emulator, "import", limits=limits), ledger, DeliverySettings(),
             "run").run(files)
    assert delivered_ids(emulator) == Counter({open_record(n)["id"]: 1 for n in range(1, 61)})


class _LockstepClaimsFileSystem(LocalFileSystem):
    """Two owners in lockstep for their first claim, as two runs started together on the same plan are on
    S3: both finish reading the claims before either writes, both have written before either reads them
    again, and both have read the other's claim before either withdraws its own."""

    cachable = False

    def __init__(self, together: threading.Barrier) -> None:
        super().__init__()
        self.together = together
        self.steps = threading.local()

    def _step(self, name: str) -> int:
        seen = getattr(self.steps, name, 0)
        setattr(self.steps, name, seen + 1)
        return seen

    def ls(self, path, detail=False, **kwargs):
        if not str(path).rstrip("/").endswith("/claims"):
            return super().ls(path, detail=detail, **kwargs)
        seen = self._step("listings")
        if seen == 1:
            self.together.wait(timeout=30)
        try:
            return super().ls(path, detail=detail, **kwargs)
        finally:
            if seen == 0:
                self.together.wait(timeout=30)

    def rm(self, path, *args, **kwargs):
        if "/claims/" in str(path) and self._step("removals") == 0:
            self.together.wait(timeout=30)
        return super().rm(path, *args, **kwargs)


def test_two_owners_claiming_the_same_files_at_the_same_moment_leave_none_unclaimed(staged_tree, tmp_path):
    root, _ = staged_tree
    files = StagingArea.from_url(str(root)).list().files[:5]
    (tmp_path / "ledger").mkdir()
    fs = _LockstepClaimsFileSystem(threading.Barrier(2))
    claimed: dict[str, list] = {}

    def claim(owner: str) -> None:
        claimed[owner] = Ledger(fs, str(tmp_path / "ledger")).claim_files(files, owner, 600)[0]

    threads = [threading.Thread(target=claim, args=(owner,)) for owner in ("run-1", "run-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(map(len, claimed.values())) == [0, len(files)]  # one owner holds them all, the other none
