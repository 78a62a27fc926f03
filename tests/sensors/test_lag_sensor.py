"""The lag sensor's poke and deferral outcomes, without Airflow's database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest

from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException
from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.sensors.delivery_lag import CurrentsDeliveryLagSensor
from tests.conftest import open_record, write_avro

ROOT = Path(__file__).resolve().parents[2]


class RecordingTaskInstance:
    """Stands in for Airflow's task instance: the sensor only pushes XComs to it."""

    def __init__(self) -> None:
        self.xcom: dict = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


def stage(tmp_path, hours_ago: int) -> None:
    hour = pendulum.now("UTC").start_of("hour").subtract(hours=hours_ago)
    key = staged_key(event_type="users.messages.email.Open", queue_hour=hour, partition=0, offset=1)
    write_avro(tmp_path / "staging" / key, [open_record(1)])


def sensor_at(tmp_path, **kwargs) -> CurrentsDeliveryLagSensor:
    return CurrentsDeliveryLagSensor(task_id="check", staging_url=str(tmp_path / "staging"),
                                     ledger_url=str(tmp_path / "ledger"), **kwargs)


def context_of(interval_end=None) -> dict:
    return {"ti": RecordingTaskInstance(), "data_interval_end": interval_end}


def test_nothing_pending_succeeds(tmp_path):
    (tmp_path / "staging").mkdir()
    context = context_of()
    assert sensor_at(tmp_path).poke(context) is True
    assert context["ti"].xcom == {"lag_hours": 0.0, "hours_left": 48.0, "hours_to_clear": 0.0}


def test_stale_data_inside_the_window_waits_and_warns(tmp_path):
    stage(tmp_path, hours_ago=10)
    context = context_of()
    assert sensor_at(tmp_path).poke(context) is False
    assert 10 <= context["ti"].xcom["lag_hours"] < 11


def test_past_the_fail_line_raises_a_fail_exception_naming_the_file(tmp_path):
    stage(tmp_path, hours_ago=37)
    with pytest.raises(AirflowFailException) as raised:
        sensor_at(tmp_path).poke(context_of())
    message = str(raised.value)
    assert "fail line of 36.0 h" in message and "users.messages.email.Open" in message
    assert "wrong Treasure Data URL, key or region" in message and "are left before Braze's loss window" in message


def test_settable_window_and_margin(tmp_path):
    stage(tmp_path, hours_ago=5)
    with pytest.raises(AirflowFailException):
        sensor_at(tmp_path, loss_window_hours=6, fail_margin_hours=1).poke(context_of())


def test_a_waiting_check_hands_over_after_its_interval(tmp_path):
    stage(tmp_path, hours_ago=3)
    sensor = sensor_at(tmp_path, hand_over_after_minutes=30)
    with pytest.raises(AirflowSkipException, match="next run"):
        sensor.poke(context_of(interval_end=pendulum.now("UTC").subtract(hours=1)))


def test_staging_silence_fails_when_enabled(tmp_path):
    stage(tmp_path, hours_ago=1)
    assert sensor_at(tmp_path).poke(context_of()) is False
    old = pendulum.now("UTC").subtract(hours=40).timestamp()
    for path in (tmp_path / "staging").rglob("*.avro"):
        os.utime(path, (old, old))
    with pytest.raises(AirflowFailException, match="No Braze Currents file has been staged"):
        sensor_at(tmp_path, max_staging_silence_hours=4).poke(context_of())


def test_the_lag_reaches_statsd_as_a_gauge(tmp_path):
    """With Airflow's StatsD metrics on, a check sends `braze_td.delivery_lag_hours` (in hours) over UDP."""
    stage(tmp_path, hours_ago=10)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(30)
        env = {**os.environ, "AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
               "AIRFLOW__METRICS__STATSD_PORT": str(listener.getsockname()[1]),
               "AIRFLOW__METRICS__STATSD_PREFIX": "airflow"}
        script = (
            "import sys; from tests.sensors.test_lag_sensor import context_of, sensor_at; from pathlib import Path; "
            "sys.exit(0 if sensor_at(Path(sys.argv[1])).poke(context_of()) is False else 1)"
        )
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        received = []
        while not any(b"delivery_lag_hours" in packet for packet in received):
            received.append(listener.recv(65536))
    name, _, value = next(p for p in received if b"delivery_lag_hours" in p).decode().partition(":")
    assert name == "airflow.braze_td.delivery_lag_hours"
    assert value.endswith("|g") and 10 <= float(value.removesuffix("|g")) < 11
