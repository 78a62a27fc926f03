"""Load on the listing: the pending-file listing and the lag sensor's check list the staging prefix with one
recursive call per event type folder and the ledger with one call, and make no call per file, however many
files are staged.

Storage calls are counted by a filesystem subclass (tests/reliability/conftest.py); 50 and 5,000 staged
files must cost the same calls. `benchmarks/listing_load.py` times the same paths over 100,000 files.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest

from airflow_braze_td.compat import object_store
from airflow_braze_td.currents.catalog import EVENT_TYPES
from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.lag import lag_report, pending_files
from airflow_braze_td.delivery.ledger import DELIVERED, Ledger
from airflow_braze_td.operators.currents_to_treasure_data import list_pending_groups
from airflow_braze_td.sensors.delivery_lag import CurrentsDeliveryLagSensor
from tests.reliability.conftest import CountingFileSystem

NOW = pendulum.now("UTC").start_of("hour")
EVENT_TYPE_COUNT = 10
HOURS = 25


def stage_tree(root: Path, files: int) -> tuple[Path, Path]:
    """`files` empty staged files over 10 event types and 25 past hours; every other one delivered."""
    staging, ledger_root = root / "staging", root / "ledger"
    for number in range(files):
        hour = NOW.subtract(hours=1 + (number // EVENT_TYPE_COUNT) % HOURS)
        key = staged_key(event_type=EVENT_TYPES[number % EVENT_TYPE_COUNT], queue_hour=hour,
                         partition=number % 3, offset=number)
        path = staging / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    ledger = Ledger.from_url(str(ledger_root))
    for staged in StagingArea.from_url(str(staging)).list().files[::2]:
        ledger.set_state(staged, DELIVERED)
    return staging, ledger_root


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[int, tuple[Path, Path]]:
    return {files: stage_tree(tmp_path_factory.mktemp(f"tree{files}"), files) for files in (50, 5_000)}


def calls_of(action, fs: CountingFileSystem) -> tuple[dict, object]:
    fs.reset()
    result = action()
    return dict(fs.calls), result


def test_listing_pending_files_and_lag_make_the_same_storage_calls_for_50_or_5000_files(trees) -> None:
    seen = {}
    for files, (staging_root, ledger_root) in trees.items():
        fs = CountingFileSystem(skip_instance_cache=True)
        staging, ledger = StagingArea(fs, str(staging_root)), Ledger(fs, str(ledger_root))
        list_calls, listing = calls_of(staging.list, fs)
        state_calls, states = calls_of(ledger.states, fs)
        pending_calls, pending = calls_of(lambda: pending_files(listing, states, now=NOW), fs)
        report_calls, report = calls_of(lambda: lag_report(staging, ledger, now=NOW), fs)
        assert len(listing.files) == files and len(states) == files // 2
        assert len(pending) == files // 2 and report.pending_files == files // 2
        assert list_calls["find"] == EVENT_TYPE_COUNT and list_calls["ls"] == 2, list_calls
        assert state_calls == {"find": 1} and pending_calls == {}
        assert report_calls == {name: list_calls.get(name, 0) + state_calls.get(name, 0)
                                for name in {*list_calls, *state_calls}}
        seen[files] = (list_calls, state_calls, report_calls)
    assert seen[50] == seen[5_000], "the calls must not grow with the number of files"
    assert sum(seen[5_000][0].values()) <= EVENT_TYPE_COUNT + 4, seen


def test_a_listing_for_some_event_types_lists_only_their_folders(trees) -> None:
    staging_root, _ = trees[5_000]
    fs = CountingFileSystem(skip_instance_cache=True)
    chosen = EventTypeSelector(EVENT_TYPES[:3])
    listing = StagingArea(fs, str(staging_root)).list(chosen)
    assert {staged.event_type for staged in listing.files} == set(EVENT_TYPES[:3])
    assert len(listing.files) == sum(1 for number in range(5_000) if number % EVENT_TYPE_COUNT < 3)
    assert fs.calls["find"] == 3, fs.calls


class RecordingTaskInstance:
    def __init__(self) -> None:
        self.xcom: dict = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


@pytest.fixture
def counting_storage(monkeypatch: pytest.MonkeyPatch) -> CountingFileSystem:
    """Every `ObjectStoragePath` on local paths (the hooks' and the sensor's) goes through a counting fs."""
    fs = CountingFileSystem(skip_instance_cache=True)
    monkeypatch.setitem(object_store._STORE_CACHE, "file", object_store.ObjectStore("file", None, fs=fs))
    return fs


def test_the_lag_sensors_check_lists_each_event_type_folder_and_the_ledger_once(trees, counting_storage) -> None:
    staging_root, ledger_root = trees[5_000]
    sensor = CurrentsDeliveryLagSensor(task_id="check", staging_url=str(staging_root), ledger_url=str(ledger_root),
                                       loss_window_hours=1_000)
    context = {"ti": RecordingTaskInstance(), "data_interval_end": None}
    oldest = NOW.subtract(hours=HOURS)
    before = pendulum.now("UTC")
    assert sensor.poke(context) is False
    after = pendulum.now("UTC")
    calls = dict(counting_storage.calls)
    assert calls["find"] == EVENT_TYPE_COUNT + 1 and calls["ls"] == 2 and calls.get("open", 0) <= 1, calls
    assert sum(calls.values()) <= EVENT_TYPE_COUNT + 7, calls
    # Measured against the clock around the check: the module's NOW may be an hour behind it by now.
    lag = context["ti"].xcom["lag_hours"]
    assert (before - oldest).total_hours() - 0.001 <= lag <= (after - oldest).total_hours() + 0.001


def test_the_pending_listing_for_mapped_deliveries_lists_each_folder_once(trees, counting_storage) -> None:
    staging_root, ledger_root = trees[5_000]
    groups = list_pending_groups(str(staging_root), str(ledger_root), until=NOW)
    assert sorted(event_type for group in groups for event_type in group) == sorted(EVENT_TYPES[:EVENT_TYPE_COUNT])
    calls = dict(counting_storage.calls)
    assert calls["find"] == EVENT_TYPE_COUNT + 1 and sum(calls.values()) <= EVENT_TYPE_COUNT + 6, calls
