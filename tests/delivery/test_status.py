"""`delivery_status`: the figures the lag page and `braze-td status --json` share, from a real ledger filled by a
real delivery to the emulator, at a frozen "now"."""

from __future__ import annotations

import os
import time

import orjson
import pendulum

from airflow_braze_td.cli import main
from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.delivery.filters import DEFAULT_DEDUPE_HOURS
from airflow_braze_td.delivery.lag import LagThresholds
from airflow_braze_td.delivery.ledger import DELIVERED, FileProgress, Ledger
from airflow_braze_td.delivery.status import ATTENTION, HISTORY_HOURS, delivery_status
from tests.conftest import open_record, write_avro
from tests.reliability.conftest import OPEN, world  # noqa: F401  (`world` is a fixture)

CLICK = "users.messages.email.Click"


def _late_click(world, now: pendulum.DateTime) -> None:
    """A Click file of the hour 8 h before `now`, landed 7 h before it, not delivered; an error of Click deliveries."""
    key = staged_key(event_type=CLICK, queue_hour=now.subtract(hours=8), partition=0, offset=1)
    path = write_avro(world.staging_dir / key, [open_record(500 + n) for n in range(4)])
    landed = now.subtract(hours=7).timestamp()
    os.utime(path, (landed, landed))
    world.ledger.record_error("table missing", destination="postback to braze.currents", event_types=[CLICK])


def test_status_per_event_type_and_its_last_48_hours(world):
    world.deliver()
    now = pendulum.now("UTC").start_of("hour").add(hours=1)
    _late_click(world, now)
    status = delivery_status(world.area, world.ledger, LagThresholds(), dedupe_hours=24, now=now).to_dict()

    assert status["level"] == ATTENTION and status["lag_hours"] == 8.0 and status["pending_files"] == 1
    rows = {row["event_type"]: row for row in status["by_event_type"]}
    assert rows[CLICK]["lag_hours"] == 8.0 and rows[CLICK]["hours_left"] == 40.0
    assert rows[CLICK]["pending_files"] == 1 and rows[CLICK]["pending_mb"] > 0
    assert rows[CLICK]["last_error"]["message"] == "table missing"
    assert rows[OPEN]["pending_files"] == 0 and rows[OPEN]["lag_hours"] == 0 and rows[OPEN]["last_error"] is None
    assert rows[OPEN]["drained_mb_per_hour"] > 0

    history = status["history"]
    assert len(history) == HISTORY_HOURS + 1 and history[-1]["at"] == now.isoformat()
    # The Click file counts from when it landed (7 h ago), at its age then; before, nothing was pending.
    assert [point["lag_hours"] for point in history[-9:]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    # The 20 Open events were delivered in the last hour (the point at now), none before.
    assert history[-1]["delivered_events"] == 20 and sum(point["delivered_events"] for point in history) == 20
    assert status["thresholds"] == {"loss_window_hours": 48.0, "warn_after_hours": 6.0, "fail_line_hours": 36.0}


def test_braze_td_status_json_is_delivery_status(world, capsys, monkeypatch):
    """The command prints `delivery_status` and its exit code, nothing computed apart (the clock stopped, so both
    see the same now)."""
    world.deliver()
    now = pendulum.now("UTC").start_of("hour").add(hours=1)
    _late_click(world, now)
    monkeypatch.setattr(pendulum, "now", lambda tz=None: now)
    capsys.readouterr()  # the delivery's log lines (Airflow 2 logs to stdout)
    code = main(["status", "--staging", str(world.staging_dir), "--ledger", str(world.ledger_dir), "--json"])
    expected = delivery_status(world.area, world.ledger, LagThresholds(), dedupe_hours=DEFAULT_DEDUPE_HOURS).to_dict()
    assert code == 1
    assert orjson.loads(capsys.readouterr().out) == {**expected, "exit_code": 1}


def test_the_events_per_hour_read_only_the_bundles_finished_since(tmp_path):
    """The states say which bundles finished since the history's first hour; an older bundle's progress object
    is not read (here it is made unreadable, and nothing notices), so a page view does not grow with the ledger."""
    ledger = Ledger.from_url(str(tmp_path / "ledger"))

    def finish(bundle: str, sent: int) -> None:
        progress = FileProgress(key=f"{bundle}.avro", size=1, etag=None, event_type=OPEN, queue_hour="2026-12-01T00",
                                fingerprint="f", finished=True, counts={"sent": sent})
        ledger.save_bundle_progress(bundle, progress)
        ledger.finish_bundle(bundle, OPEN, "0", {f"{bundle}-file": DELIVERED})

    finish("old", 5)
    since = time.time()
    finish("new", 7)
    (tmp_path / "ledger" / "files" / "old.json").write_bytes(b"not json")
    assert [events for _, events in Ledger.from_url(str(tmp_path / "ledger")).delivered_events_since(since)] == [7]
