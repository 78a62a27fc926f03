"""The lag sensor's trigger: the same check in the triggerer, its round trip, and its events for the sensor."""

from __future__ import annotations

import asyncio

import pytest

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow_braze_td.triggers.delivery_lag import DeliveryLagTrigger
from tests.sensors.test_lag_sensor import context_of, sensor_at, stage


def test_stale_data_inside_the_window_waits_and_warns(tmp_path):
    stage(tmp_path, hours_ago=10)
    outcome = DeliveryLagTrigger(str(tmp_path / "staging"), str(tmp_path / "ledger")).check()
    assert outcome.status == "waiting" and "Delivery lag is" in outcome.warning


def _first_event(trigger: DeliveryLagTrigger) -> dict:
    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first_event())


def test_trigger_round_trips_and_fires_on_the_fail_line(tmp_path):
    stage(tmp_path, hours_ago=40)
    trigger = DeliveryLagTrigger(str(tmp_path / "staging"), str(tmp_path / "ledger"), poke_interval=0.01)
    path, kwargs = trigger.serialize()
    assert path == "airflow_braze_td.triggers.delivery_lag.DeliveryLagTrigger"
    payload = _first_event(DeliveryLagTrigger(**kwargs))
    assert payload["status"] == "failed" and payload["report"]["pending_files"] == 1
    with pytest.raises(AirflowFailException):
        sensor_at(tmp_path).execute_complete(context_of(), payload)


def test_a_check_that_cannot_run_ends_the_trigger_with_an_error_event_and_fails_the_try(tmp_path):
    """The trigger's run turns the exception into an event, so the sensor fails its try (retries apply) with
    the reason, rather than the triggerer failing the trigger."""
    payload = _first_event(DeliveryLagTrigger(str(tmp_path / "missing"), str(tmp_path / "ledger"), poke_interval=0.01))
    assert payload["status"] == "error" and "does not exist" in payload["message"]
    with pytest.raises(AirflowException, match="does not exist") as raised:
        sensor_at(tmp_path).execute_complete(context_of(), payload)
    assert not isinstance(raised.value, AirflowFailException)
