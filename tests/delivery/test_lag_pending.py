"""`pending_files`: the unprocessed files due, of the selected event types, in queue-hour order."""

from __future__ import annotations

import logging

import pendulum

from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.currents.layout import StagedFile, parse_key, staged_key
from airflow_braze_td.currents.staging import Listing
from airflow_braze_td.delivery.lag import measure_lag, pending_files
from airflow_braze_td.delivery.ledger import DELIVERED, QUARANTINED

NOW = pendulum.datetime(2026, 11, 30, 12, tz="UTC")
SEND, PURCHASE = "users.messages.email.Send", "users.behaviors.Purchase"


def staged(event_type: str, hours_ago: int, offset: int) -> StagedFile:
    parsed = parse_key(staged_key(event_type=event_type, queue_hour=NOW.subtract(hours=hours_ago), partition=0,
                                  offset=offset))
    assert parsed is not None
    return parsed


def test_pending_files_are_the_unprocessed_due_files_in_queue_hour_order(caplog) -> None:
    files = [staged(SEND, 1, 9), staged(PURCHASE, 3, 1), staged(SEND, 3, 2), staged(SEND, -2, 5),
             staged(SEND, 2, 7), staged(PURCHASE, 1, 3)]
    states = {files[0].identity: DELIVERED, files[5].identity: QUARANTINED}
    with caplog.at_level(logging.WARNING):
        pending = pending_files(Listing(files), states, now=NOW)
    assert pending == [files[1], files[2], files[4]]
    assert "1 staged file(s) are queued after now" in caplog.text and files[3].key in caplog.text
    assert pending_files(Listing(files), states, now=NOW, event_types=EventTypeSelector([SEND])) == [files[2], files[4]]
    assert pending_files(Listing(files), states, now=NOW, until=NOW.subtract(hours=2)) == [files[1], files[2]]


def test_lag_counts_from_the_cached_queue_hour() -> None:
    files = [staged(SEND, 5, 1), staged(SEND, 2, 2)]
    report = measure_lag(Listing(files), {files[0].identity: DELIVERED}, now=NOW)
    assert (report.delivered_files, report.pending_files, report.lag_hours) == (1, 1, 2.0)
    assert report.oldest_pending_key == files[1].key
    assert report.newest_staged_at == NOW.subtract(hours=1).isoformat()
