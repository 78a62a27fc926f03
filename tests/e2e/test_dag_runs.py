"""End to end through real Airflow runs: every eligible event exactly once, re-runs add nothing, and a
delivery killed with SIGKILL mid-file resumes from the ledger."""

from __future__ import annotations

import time
from pathlib import Path

import pendulum
import pytest

from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.delivery.ledger import Ledger
from airflow_braze_td.emulator import Fault
from airflow_braze_td.treasure_data.sinks import SINK_CLASSES
from tests.conftest import open_record, write_avro
from tests.delivery.conftest import delivered_ids, eligible_ids
from tests.e2e.conftest import dag_test, kill_group

SAMPLE_END = pendulum.datetime(2026, 11, 30, 10, tz="UTC")


def conf_for(tmp_path: Path, mode: str) -> dict:
    return {
        "staging_url": str(tmp_path / "staging"),
        "ledger_url": str(tmp_path / "ledger"),
        "mode": mode,
        "database": "braze",
        "table": "currents" if mode == "postback" else "events_{event_type}",
    }


@pytest.mark.parametrize(("mode", "logical_date"), [
    ("postback", "2026-11-30T12:00:00+00:00"),
    ("import", "2026-11-30T13:00:00+00:00"),
    ("ingest", "2026-11-30T14:00:00+00:00"),
])
def test_each_mode_delivers_exactly_once_and_a_rerun_adds_nothing(airflow_home, emulator, tmp_path, mode, logical_date):
    stage_sample(str(tmp_path / "staging"), events=1_500, hours=2, seed=5, end=SAMPLE_END)
    conf = conf_for(tmp_path, mode)
    first = dag_test(airflow_home, emulator.url, conf, logical_date=logical_date)
    assert first.returncode == 0, first.stdout[-4000:]
    truth = eligible_ids(tmp_path / "staging")
    assert delivered_ids(emulator) == truth
    rerun = dag_test(airflow_home, emulator.url, conf, logical_date=logical_date)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert delivered_ids(emulator) == truth


def _big_files(staging: Path, files: int, events_per_file: int) -> None:
    hour = SAMPLE_END.subtract(hours=1)
    for number in range(files):
        key = staged_key(event_type="users.messages.email.Open", queue_hour=hour, partition=0, offset=number * 10**6)
        records = [open_record(number * 10**6 + n) for n in range(events_per_file)]
        write_avro(staging / key, records)


def _acked_batches(ledger: Path) -> int:
    """The most batches an unfinished bundle has acknowledged, as a resuming run would read it."""
    reader = Ledger.from_url(str(ledger))
    most = 0
    for path in (ledger / "files").glob("*.json"):
        progress = reader.bundle_progress(path.stem)
        if progress is not None and not progress.finished:
            most = max(most, progress.batches_acked)
    return most


@pytest.mark.parametrize(("mode", "logical_date", "events_per_file", "delay"), [
    ("import", "2026-11-30T15:00:00+00:00", 50_000, 2.0),  # 4 requests in flight: 5 batches a file
    ("postback", "2026-11-30T16:00:00+00:00", 3_000, 0.05),
])
def test_a_delivery_killed_mid_file_resumes_from_the_ledger(airflow_home, emulator, tmp_path, mode, logical_date,
                                                            events_per_file, delay):
    _big_files(tmp_path / "staging", 2, events_per_file)
    conf = conf_for(tmp_path, mode)
    prefix = "/v3/table/import" if mode == "import" else "/postback"
    emulator.push_faults(*[Fault(delay=delay, kind="slow", status=None, path_prefix=prefix) for _ in range(200)])
    running = dag_test(airflow_home, emulator.url, conf, logical_date=logical_date, background=True)
    deadline = time.monotonic() + 120
    try:
        while _acked_batches(tmp_path / "ledger") < 2:
            assert running.poll() is None, "the delivery ended before it could be killed"
            assert time.monotonic() < deadline, "no batch was acknowledged in time"
            time.sleep(0.05)
    finally:
        kill_group(running)
    emulator.clear_faults()
    rerun = dag_test(airflow_home, emulator.url, conf, logical_date=logical_date)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    truth = eligible_ids(tmp_path / "staging")
    landed = delivered_ids(emulator)
    assert set(landed) == set(truth)
    duplicated = sum(count - 1 for count in landed.values())
    if mode == "import":
        assert duplicated == 0
    else:  # the batches in flight at the kill, at most, each of 100 events
        assert duplicated <= SINK_CLASSES[mode].requests_in_flight * 100
