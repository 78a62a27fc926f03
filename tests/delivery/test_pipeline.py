"""The delivery core end to end against the real emulator: exactly once, resumable, claimed, quarantined."""

from __future__ import annotations

import gc
import hashlib
import threading
from array import array
from collections import Counter

import orjson
import pendulum
import pytest
import requests

from airflow_braze_td.currents.layout import parse_key, staged_key
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.batching import BatchLimits
from airflow_braze_td.delivery.filters import DedupeWindow, EventFilter, FieldTransform
from airflow_braze_td.delivery.bundles import delivery_order
from airflow_braze_td.delivery.collector import GC_YOUNG_THRESHOLD, fewer_collections
from airflow_braze_td.delivery.pipeline import Delivery
from airflow_braze_td.delivery.settings import DeliverySettings
from airflow_braze_td.emulator import Fault
from tests.conftest import open_record, write_avro
from tests.delivery.conftest import END, KEY, TEST_EVENT_TYPES, delivered_ids, eligible_ids, ledger_in, sink_for


def deliver(root, emu, tmp_path, mode: str, owner: str = "run-1", **settings):
    area = StagingArea.from_url(str(root))
    delivery = Delivery(area, sink_for(emu, mode), ledger_in(tmp_path),
                        DeliverySettings(**settings), owner)
    return delivery.run(area.list().files)


@pytest.mark.parametrize("mode", ["postback", "import", "ingest"])
def test_every_eligible_event_lands_exactly_once_and_a_rerun_adds_nothing(staged_tree, emulator, tmp_path, mode):
    root, staged = staged_tree
    summary = deliver(root, emulator, tmp_path, mode)
    truth = eligible_ids(root)
    landed = delivered_ids(emulator)
    assert landed == truth
    assert summary.events_read == staged["events"]
    assert summary.events_sent == len(truth)
    assert summary.filtered["no_external_user_id"] > 0 and summary.duplicates > 0
    assert summary.events_read == (summary.events_sent + summary.duplicates + sum(summary.filtered.values())
                                   + summary.quarantined)
    again = deliver(root, emulator, tmp_path, mode, owner="run-2")
    assert again.events_sent == 0 and again.files_already_delivered == staged["files"]
    assert delivered_ids(emulator) == truth


def test_store_then_fail_mid_run_is_deduplicated_by_the_import_api(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    sink = sink_for(emulator, "import")
    for event_type in {staged.event_type for staged in StagingArea.from_url(str(root)).list().files}:
        sink.client.ensure_table("braze", sink.router(event_type))  # so no fault is spent on a missing table
    emulator.push_faults(*[Fault(store_then_status=500, kind="store_then_500", path_prefix="/v3/table/import") for _ in range(3)])
    summary = deliver(root, emulator, tmp_path, "import")
    assert sum(emulator.fault_counts().values()) == 3
    assert summary.retries >= 2
    assert delivered_ids(emulator) == eligible_ids(root)


def test_claimed_files_are_left_to_their_owner(staged_tree, emulator, tmp_path):
    root, staged = staged_tree
    area = StagingArea.from_url(str(root))
    ledger = ledger_in(tmp_path)
    files = area.list().files
    claimed, token = ledger.claim_files([files[0]], "other-run", ttl=600)
    assert claimed == [files[0]]
    summary = deliver(root, emulator, tmp_path, "import")
    assert summary.files_claimed_elsewhere == 1 and summary.files == staged["files"] - 1
    ledger.release_claim(token)
    assert deliver(root, emulator, tmp_path, "import", owner="run-3").files == 1


def test_event_type_filter_and_window(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    summary = deliver(root, emulator, tmp_path, "import",
                      event_filter=EventFilter(event_types=("users.messages.email.*",), since=0, until=1))
    assert summary.events_sent == 0
    assert summary.filtered["event_type"] > 0 and summary.filtered["window"] > 0


def test_replay_sends_again_under_new_batch_identities(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    first = deliver(root, emulator, tmp_path, "import")
    replay = deliver(root, emulator, tmp_path, "import", owner="replay-run", generation="replay-1")
    assert replay.events_sent == first.events_sent
    landed = delivered_ids(emulator)
    assert set(landed.values()) == {2}
    resumed = deliver(root, emulator, tmp_path, "import", owner="replay-run", generation="replay-1")
    assert resumed.events_sent == 0
    assert list(ledger_in(tmp_path).fs.find(str(tmp_path / "ledger" / "replays")))


def test_pii_fields_are_hashed_or_dropped_before_sending(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    area = StagingArea.from_url(str(root))
    originals = {event["id"]: event for staged in area.list().files for event in area.iter_events(staged)
                 if event["user"].get("external_user_id")}
    transform = FieldTransform(drop_fields=("user.device_id", "properties.email_address"),
                               hash_fields=("user.external_user_id",))
    deliver(root, emulator, tmp_path, "import", transform=transform)
    stored = [row for table in _table_names(emulator) for row in emulator.rows("braze", table)]
    assert sorted(row["id"] for row in stored) == sorted(originals)
    for row in stored:
        external = originals[row["id"]]["user"]["external_user_id"]
        assert row["user_external_user_id"] == hashlib.sha256(external.encode()).hexdigest()
        assert "user_device_id" not in row and "properties_email_address" not in row
    assert any("email_address" in event["properties"] for event in originals.values())


def test_field_paths_must_name_user_or_properties():
    with pytest.raises(ValueError, match="must start with `user.` or `properties.`"):
        FieldTransform(drop_fields=("email_address",))


def _table_names(emu) -> list[str]:
    answer = requests.get(f"{emu.url}/v3/table/list/braze", headers={"Authorization": f"TD1 {KEY}"}, timeout=30)
    return [table["name"] for table in answer.json()["tables"]]


def test_a_delivery_restores_the_garbage_collector_settings_it_relaxes(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    deliver(root, emulator, tmp_path, "import")
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


def test_overlapping_deliveries_in_one_process_restore_the_settings_when_the_last_ends():
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, tuple] = {}

    def first() -> None:
        with fewer_collections:
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with fewer_collections:
            second_in.set()
            first_out.wait(10)
            seen["after the first left"] = gc.get_threshold()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["after the first left"][0] == max(threshold[0], GC_YOUNG_THRESHOLD)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


def test_import_batches_go_out_several_at_a_time(staged_tree, emulator, tmp_path):
    """8 import requests held 0.3 s each at the server: the import sink's 4 requests in flight are held
    there together, and never more than 4."""
    root, _ = staged_tree
    area = StagingArea.from_url(str(root))
    files = [staged for staged in area.list().files if staged.event_type == "users.messages.email.Open"]
    emulator.push_faults(*[Fault.slow(0.3, path_prefix="/v3/table/import") for _ in range(8)])
    sink = sink_for(emulator, "import", limits=BatchLimits(50, 1 << 20, 1 << 20))
    assert sink.requests_in_flight == 4
    summary = Delivery(area, sink, ledger_in(tmp_path), DeliverySettings(), "run").run(files)
    assert emulator.fault_counts()["slow"] == 8 and summary.batches >= 8
    assert emulator.most_delayed_at_once() == 4
    truth = {event["id"] for staged in files for event in area.iter_events(staged)
             if event["user"].get("external_user_id")}
    assert set(delivered_ids(emulator)) == truth


def test_an_event_type_is_read_hour_by_hour_within_a_day_and_dedupe_holds_across_midnight(emulator, tmp_path):
    """Files from 23:00 to 01:00. A day's files of one event type are read together, so one bundle spans its
    hours; Open's 00:00 file repeats five of Open's 23:00 ids (Braze duplicates), and they are still caught
    though Click's 00:00 and 01:00 files are read between the two."""
    root = tmp_path / "staging"
    midnight = pendulum.datetime(2026, 12, 1, tz="UTC")
    click, open_ = "users.messages.email.Click", "users.messages.email.Open"
    files = [(click, -1, range(1, 11)), (click, 0, range(11, 21)), (click, 1, range(21, 31)),
             (open_, -1, range(31, 41)), (open_, 0, [*range(31, 36), *range(41, 51)])]
    for offset, (event_type, hour, numbers) in enumerate(files):
        key = staged_key(event_type=event_type, queue_hour=midnight.add(hours=hour), partition=0, offset=offset)
        write_avro(root / key, [open_record(number) for number in numbers])
    summary = deliver(root, emulator, tmp_path, "import")
    assert delivered_ids(emulator) == Counter({open_record(number)["id"]: 1 for number in range(1, 51)})
    assert summary.duplicates == 5 and summary.events_sent == 50
    spans = []
    for progress in (tmp_path / "ledger" / "files").glob("*.json"):
        members = orjson.loads(progress.read_bytes()).get("members") or []
        spans.append(sorted(parse_key(member["key"]).queue_hour.hour for member in members))
    assert [0, 1] in spans, "Click's two hours of 1 December should make one bundle"


def test_dedupe_forgets_old_hours_per_event_type():
    """Reading one type's later hours must not drop another type's recent hour, whose ids of this run the
    ledger does not have yet."""
    window = DedupeWindow(1, lambda event_type, hour: array("Q"), lambda event_type: ())
    assert window.checker("B", 23)("late-id") is not None
    for hour in (23, 24, 25, 26):
        window.evict_before("A", hour)
        window.checker("A", hour)("a")
    window.evict_before("B", 24)
    assert window.checker("B", 24)("late-id") is None
    window.evict_before("B", 26)
    assert window.checker("B", 26)("late-id") is not None


def test_delivery_order_is_oldest_day_first_then_each_event_type_hour_by_hour():
    midnight = pendulum.datetime(2026, 12, 1, tz="UTC")
    click, open_ = "users.messages.email.Click", "users.messages.email.Open"

    def staged(event_type: str, hour: int, offset: int = 0):
        return parse_key(staged_key(event_type=event_type, queue_hour=midnight.add(hours=hour), partition=0,
                                    offset=offset))

    expected = [staged(click, -2), staged(click, -1), staged(open_, -2), staged(open_, -1, 1), staged(open_, -1, 2),
                staged(click, 0), staged(click, 5), staged(open_, 0), staged(open_, 23), staged(click, 24)]
    assert sorted(reversed(expected), key=delivery_order) == expected


def test_the_summary_counts_the_files_each_reader_read(tmp_path, emulator):
    """Avro files go through the columnar reader; one it cannot read (zstandard) goes to fastavro, is
    delivered all the same, and is counted with the reason."""
    root = tmp_path / "staging"
    hour = pendulum.datetime(2026, 11, 30, 10, tz="UTC")
    for offset, codec in ((1, "null"), (2, "zstandard"), (3, "snappy")):
        key = staged_key(event_type="users.messages.email.Open", queue_hour=hour, partition=0, offset=offset)
        write_avro(root / key, [open_record(offset * 100 + n) for n in range(40)], codec=codec)
    summary = deliver(root, emulator, tmp_path, "postback")
    assert summary.events_sent == 120 and delivered_ids(emulator) == eligible_ids(root)
    assert summary.files_columnar == 2
    ((reason, files),) = summary.files_fastavro.items()
    assert files == 1 and reason.startswith("Polars could not read it")
    assert summary.to_dict()["files_fastavro"] == dict(summary.files_fastavro)


@pytest.mark.parametrize("mode", ["postback", "import", "ingest"])
def test_columnar_and_fastavro_reading_deliver_the_same(tmp_path_factory, emulator, tmp_path, mode):
    """One export staged twice, with the codec Polars reads (every file columnar: filters, dedupe and encoding
    on the columns) and with zstandard (every file through fastavro, one event at a time): the same rows land
    in TD and every count of the summary is the same, with the window and the external-id rule both filtering."""
    stored: dict[str, list] = {}
    summaries = {}
    for codec in ("null", "zstandard"):
        root = tmp_path_factory.mktemp(f"staging-{codec}")
        stage_sample(str(root), events=1_500, hours=2, seed=23, end=END, codec=codec, event_types=TEST_EVENT_TYPES)
        times = sorted(event["time"] for staged in StagingArea.from_url(str(root)).list().files
                       for event in StagingArea.from_url(str(root)).iter_events(staged))
        summaries[codec] = deliver(root, emulator, tmp_path / codec, mode, owner=f"run-{codec}",
                                   event_filter=EventFilter(since=times[len(times) // 5]))
        if mode == "postback":
            rows = [event for body in emulator.postback_bodies("braze", "currents")
                    for event in orjson.loads(body)["events"]]
        else:
            rows = [row for table in _table_names(emulator) for row in emulator.rows("braze", table)]
        stored[codec] = sorted(rows, key=orjson.dumps)
        emulator.reset()
    columnar, streamed = summaries["null"], summaries["zstandard"]
    assert columnar.files_columnar == columnar.files and streamed.files_columnar == 0
    assert stored["null"] == stored["zstandard"] and len(stored["null"]) == columnar.events_sent > 0
    assert columnar.filtered["window"] > 0 and columnar.filtered["no_external_user_id"] > 0 and columnar.duplicates > 0
    for name in ("events_read", "events_sent", "duplicates", "quarantined", "filtered", "batches"):
        assert getattr(columnar, name) == getattr(streamed, name), name
