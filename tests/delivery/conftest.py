"""Delivery fixtures: sample staging trees, a real emulator, and core sinks (no Airflow)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pendulum
import pytest
import requests

from airflow_braze_td.currents.decode import BadEvent
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.ledger import Ledger
from airflow_braze_td.emulator import Emulator
from airflow_braze_td.treasure_data.client import TDClient
from airflow_braze_td.treasure_data.endpoints import Endpoints
from airflow_braze_td.treasure_data.retry import RetryPolicy
from airflow_braze_td.treasure_data.sinks import make_sink

KEY = "1/" + "ab" * 20
END = pendulum.datetime(2026, 11, 30, 12, tz="UTC")
TEST_EVENT_TYPES = (
    "users.messages.email.Send", "users.messages.email.Open", "users.messages.pushnotification.Send",
    "users.behaviors.CustomEvent", "users.behaviors.Purchase", "users.behaviors.app.SessionStart",
    "agentconsole.AgentExecuted", "users.messages.banner.Click",
)
FAST_RETRY = RetryPolicy(max_attempts=6, max_total_seconds=30, initial_wait=0.01, max_wait=0.05)


@pytest.fixture(scope="session")
def staged_tree(tmp_path_factory) -> tuple[Path, dict]:
    """A small realistic staging tree of a few event types (few files: fast), written once per session."""
    root = tmp_path_factory.mktemp("staging")
    summary = stage_sample(str(root), events=4_000, hours=3, seed=11, end=END, event_types=TEST_EVENT_TYPES)
    return root, summary


def sink_for(emu: Emulator, mode: str, **options):
    client = TDClient(requests.Session(), Endpoints.for_region(host=emu.url), KEY, retry=FAST_RETRY)
    table = "events_{event_type}" if mode != "postback" else "currents"
    return make_sink(mode, client, database="braze", table=table, create_table=True, **options)


def eligible_ids(root: Path) -> Counter:
    """Independent truth: distinct ids of events with an external_user_id, read straight from staging."""
    area = StagingArea.from_url(str(root))
    seen: set[str] = set()
    for staged in area.list().files:
        for event in area.iter_events(staged):
            assert not isinstance(event, BadEvent)
            if event["user"].get("external_user_id"):
                seen.add(event["id"])
    return Counter(seen)


def delivered_ids(emu: Emulator) -> Counter:
    """Every event id stored in TD, counted with multiplicity."""
    return Counter(event_id for row in emu.event_ids("braze") for event_id in row)


def ledger_in(tmp_path: Path) -> Ledger:
    return Ledger.from_url(str(tmp_path / "ledger"))
