"""Dedupe across Braze's retry horizon: copies staged up to 47 queue hours after the first land once, across
separate runs and separate mapped tasks; a copy 49 hours later is delivered and reported; the window holds
each id in at most 16 bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from array import array
from collections import Counter
from pathlib import Path

import orjson
import pendulum
import pytest

from airflow_braze_td.cli import main
from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.filters import DEFAULT_DEDUPE_HOURS, DedupeWindow, EventFilter, sorted_hashes
from airflow_braze_td.delivery.ledger import Ledger
from airflow_braze_td.identities import id_hash
from airflow_braze_td.delivery.pipeline import Delivery
from airflow_braze_td.delivery.settings import DeliverySettings
from tests.conftest import open_record, write_avro
from tests.delivery.conftest import delivered_ids, ledger_in, sink_for

FIRST_HOUR = pendulum.datetime(2026, 11, 27, 10, tz="UTC")
OPEN, CLICK = "users.messages.email.Open", "users.messages.email.Click"
# Hours after the first copy, and which of the first copy's 60 events each copy repeats.
COPIES = {0: range(1, 11), 1: range(11, 21), 2: range(21, 31), 24: range(31, 41), 47: range(41, 51)}
TOO_LATE = (49, range(51, 56))
# The runs, each staging some copies and delivering what is pending, one mapped task per event type.
RUNS = ((0,), (1, 2), (24,), (47, 49))


def stage_run(root: Path, event_type: str, base: int, hours_after: tuple[int, ...]) -> None:
    """The first copy (60 events) with the run of hour 0, and each later copy as a file of its own queue hour
    (another partition for the copy in the same hour), with 5 new events beside the repeated ones."""
    for after in hours_after:
        repeated = COPIES.get(after) or TOO_LATE[1]
        new = range(100 + after * 10, 105 + after * 10)
        records = [open_record(base + number) for number in (*repeated, *new)]
        key = staged_key(event_type=event_type, queue_hour=FIRST_HOUR.add(hours=after), partition=1, offset=after)
        write_avro(root / key, records)
        if after == 0:
            first = staged_key(event_type=event_type, queue_hour=FIRST_HOUR, partition=0, offset=0)
            write_avro(root / first, [open_record(base + number) for number in range(1, 61)])


@pytest.mark.parametrize("mode", ["postback", "import", "ingest"])
def test_copies_up_to_47_hours_later_land_once_and_49_hours_later_is_delivered_and_reported(emulator, tmp_path, mode):
    root = tmp_path / "staging"
    bases = {OPEN: 0, CLICK: 10_000}
    ledger = ledger_in(tmp_path)
    summaries = []
    for number, hours_after in enumerate(RUNS):
        for event_type, base in bases.items():
            stage_run(root, event_type, base, hours_after)
        area = StagingArea.from_url(str(root))
        for task, event_type in enumerate(bases):  # one mapped task per event type, as the example DAG maps
            settings = DeliverySettings(event_filter=EventFilter(event_types=(event_type,)))
            files = [staged for staged in area.list().files if staged.event_type == event_type]
            delivery = Delivery(area, sink_for(emulator, mode), ledger, settings, f"run-{number}/task-{task}")
            summaries.append(delivery.run(files))
    expected = Counter()
    for base in bases.values():
        expected.update(f"00000000-0000-4000-8000-{base + number:012d}"
                        for number in (*range(1, 61), *(n for after in (*COPIES, TOO_LATE[0])
                                                         for n in range(100 + after * 10, 105 + after * 10))))
        expected.update(f"00000000-0000-4000-8000-{base + number:012d}" for number in TOO_LATE[1])
    assert delivered_ids(emulator) == expected
    assert sum(summary.duplicates for summary in summaries) == 2 * 50
    report = Ledger.from_url(str(tmp_path / "ledger")).dedupe_report(DEFAULT_DEDUPE_HOURS)
    assert report["duplicates_delivered"] == 2 * 5
    assert report["events_delivered"] == sum(expected.values())
    assert report["distinct_ids"] == len(expected)
    assert report["by_event_type"][OPEN]["duplicates_delivered"] == 5


def test_status_reports_distinct_ids_the_window_and_a_duplicate_it_missed(emulator, tmp_path, capsys):
    root = tmp_path / "staging"
    for hours_after in RUNS:
        stage_run(root, OPEN, 0, hours_after)
        area = StagingArea.from_url(str(root))
        Delivery(area, sink_for(emulator, "import"), ledger_in(tmp_path), DeliverySettings(), "run").run(
            area.list().files)
    arguments = ["status", "--staging", str(root), "--ledger", str(tmp_path / "ledger")]
    main(arguments)
    text = capsys.readouterr().out
    # 60 first copies, 5 new events in each of the 6 later copies, and the 5 copies 49 hours later again; the
    # window (hours 1 to 49 after the first) holds the later copies' 25 new ids and the 49th hour's 5 again
    assert ("dedupe, last 120 queue hours: 95 event(s) delivered, 90 distinct id(s); window 48 h, holding 30 id(s); 5 duplicate(s) "
            f"delivered, their copies further apart than the window: {OPEN} (5)") in text
    main([*arguments, "--dedupe-hours", "1", "--json"])
    dedupe = orjson.loads(capsys.readouterr().out)["dedupe"]
    assert dedupe["window_hours"] == 1 and dedupe["ids_in_window"] == 10  # the hour 49 after the first: 5 new, 5 again
    newest_only = Ledger.from_url(str(tmp_path / "ledger")).dedupe_report(1, report_hours=0)
    assert (newest_only["events_delivered"], newest_only["distinct_ids"]) == (10, 10)  # older hours are not read


def window_over(held: dict[tuple[str, int], list[str]], hours: int) -> DedupeWindow:
    """A window over a ledger's worth of ids, given as strings per event type and hour."""
    return DedupeWindow(hours, lambda event_type, hour: sorted_hashes(map(id_hash, held.get((event_type, hour), ()))),
                        lambda event_type: {hour for kind, hour in held if kind == event_type})


def test_the_window_is_settable_and_reaches_either_side():
    held = {("A", 100): ["early"], ("A", 151): ["late"]}
    new_id_hash = window_over(held, 48).checker("A", 103)
    assert new_id_hash("early") is None and new_id_hash("late") is None  # 3 hours after, 48 hours before
    assert new_id_hash("fresh") == id_hash("fresh") and new_id_hash("fresh") is None
    assert window_over(held, 48).checker("B", 103)("early") == id_hash("early")  # another event type
    assert window_over(held, 2).checker("A", 103)("early") == id_hash("early")


def test_the_window_holds_each_id_in_at_most_16_bytes():
    ids_per_hour = 20_000
    window = DedupeWindow(48, lambda event_type, hour: sorted_hashes(id_hash(f"{hour}-{n}") for n in range(ids_per_hour)),
                          lambda event_type: range(1000, 1048))
    new_id_hash = window.checker("A", 1048)
    fresh = [f"new-{n}" for n in range(ids_per_hour)]
    assert all(new_id_hash(event_id) is not None for event_id in fresh)
    assert window.ids_held == 49 * ids_per_hour
    assert window.bytes_held / window.ids_held <= 16
    assert all(new_id_hash(event_id) is None for event_id in (*fresh, "1000-0", "1047-19999"))


def test_the_id_hash_is_stable_across_processes():
    """The ledger keeps hashes, so another process (a later run, another worker) must hash an id the same."""
    script = "from airflow_braze_td.identities import id_hash; print(id_hash('8f14e45f-ceea-467f-a0e6-4a2b8c1d9e0f'))"
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "random"})
    assert int(other.stdout) == id_hash("8f14e45f-ceea-467f-a0e6-4a2b8c1d9e0f") != id_hash("8f14e45f")


def test_the_ledger_keeps_8_bytes_an_id_and_gives_them_back_sorted_without_the_files_redelivered(tmp_path):
    ledger = Ledger.from_url(str(tmp_path / "ledger"))
    first, second = ([f"{name}-{n}" for n in range(1000)] for name in ("first", "second"))
    ledger.save_bundle_ids("bundle", {(OPEN, 500): {"file-1": array("Q", map(id_hash, first)),
                                                    "file-2": array("Q", map(id_hash, second))}})
    stored = list((tmp_path / "ledger" / "ids" / OPEN / "500").iterdir())
    assert len(stored) == 1 and stored[0].stat().st_size <= 2000 * 8 + 64
    assert list(ledger.load_id_hashes(OPEN, 500)) == sorted(map(id_hash, first + second))
    assert list(ledger.load_id_hashes(OPEN, 500, exclude=frozenset({"file-1"}))) == sorted(map(id_hash, second))
    assert not ledger.load_id_hashes(OPEN, 501)


def test_the_ledger_is_read_once_per_event_type_and_hour():
    reads: Counter = Counter()
    listings: Counter = Counter()

    def load(event_type: str, hour: int):
        reads[event_type, hour] += 1
        return sorted_hashes([id_hash(f"{hour}")])

    def hours_held(event_type: str):
        listings[event_type] += 1
        return range(0, 200)

    window = DedupeWindow(48, load, hours_held)
    for hour in range(100, 110):  # one file an hour, as bundles of one event type read them
        window.evict_before("A", hour)
        window.checker("A", hour)("x")
    assert listings == {"A": 1} and set(reads.values()) == {1} and len(reads) == 48 + 10 + 48
