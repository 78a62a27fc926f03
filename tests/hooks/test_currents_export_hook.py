"""`CurrentsExportHook`: a staging URL, or a `braze_currents` connection holding one, over real staged Avro files."""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest

from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.hooks.currents import CurrentsExportHook
from tests.conftest import open_record, write_avro

OPEN, CLICK = "users.messages.email.Open", "users.messages.email.Click"
FIRST_HOUR = pendulum.datetime(2026, 11, 30, 10, tz="UTC")


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    """Two event types over two queue hours, three events a file, and one key that matches no layout."""
    root = tmp_path / "staging"
    for offset, (event_type, hours) in enumerate(((OPEN, 0), (OPEN, 1), (CLICK, 1))):
        key = staged_key(event_type=event_type, queue_hour=FIRST_HOUR.add(hours=hours), partition=0, offset=offset)
        write_avro(root / key, [open_record(offset * 10 + number) for number in range(3)])
    (root / "README.txt").write_text("not an export")
    return root


def test_a_staging_url_lists_selects_and_streams_the_files(staging: Path):
    hook = CurrentsExportHook(staging_url=str(staging))
    listing = hook.list_files()
    assert len(listing.files) == 3 and [Path(key).name for key in listing.unmatched] == ["README.txt"]
    opens = hook.select_files([OPEN])
    assert [staged.queue_hour for staged in opens] == [FIRST_HOUR, FIRST_HOUR.add(hours=1)]
    later = hook.select_files(["users.messages.email.*"], since=FIRST_HOUR.add(hours=1))
    assert sorted(staged.event_type for staged in later) == [CLICK, OPEN]
    events = list(hook.iter_events(opens[0]))
    assert [event["id"] for event in events] == [open_record(number)["id"] for number in range(3)]
    assert {event["event_type"] for event in events} == {OPEN}


def test_a_braze_currents_connection_holds_the_url(staging: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW_CONN_BRAZE_CURRENTS_DEFAULT",
                       json.dumps({"conn_type": "braze_currents", "host": str(staging)}))
    hook = CurrentsExportHook(currents_conn_id="braze_currents_default")
    assert hook.test_connection() == (True, "3 staged file(s), 1 key(s) matching no layout")


def test_test_connection_reports_an_unreadable_location(tmp_path: Path):
    ok, message = CurrentsExportHook(staging_url="nosuchscheme://bucket/prefix").test_connection()
    assert not ok and "nosuchscheme" in message


def test_neither_a_url_nor_a_connection_is_refused():
    with pytest.raises(ValueError, match="give a staging_url, or a braze_currents connection"):
        CurrentsExportHook()
