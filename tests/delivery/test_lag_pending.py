"""`pending_files`: the unprocessed files due, of the selected event types, in queue-hour order."""

from __future__ import annotations

import logging

import pendulum
import pytest

from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.currents.layout import StagedFile, parse_key, staged_key
from airflow_braze_td.currents.staging import Listing
from airflow_braze_td.delivery.lag import LagThresholds, judge, measure_lag, pending_files
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


def _sized(hours_ago: int, offset: int, *, staged_minutes_ago: int | None = None) -> StagedFile:
    """A 1 MB file of SEND queued `hours_ago`, staged at the end of that hour or `staged_minutes_ago`."""
    key = staged_key(event_type=SEND, queue_hour=NOW.subtract(hours=hours_ago), partition=0, offset=offset)
    mtime = None if staged_minutes_ago is None else NOW.subtract(minutes=staged_minutes_ago).timestamp()
    parsed = parse_key(key, size=1_000_000, mtime=mtime)
    assert parsed is not None
    return parsed


def _backlog(hours_ago: int, delivered_minutes_ago: int, delivered: int) -> tuple[Listing, dict, dict]:
    """10 pending files queued `hours_ago`, one staged 10 minutes ago, and `delivered` files whose bundle
    finished `delivered_minutes_ago`."""
    pending = [_sized(hours_ago, n) for n in range(10)] + [_sized(0, 99, staged_minutes_ago=10)]
    done = [_sized(hours_ago + 1, 100 + n) for n in range(delivered)]
    finished = NOW.subtract(minutes=delivered_minutes_ago).timestamp()
    return (Listing(pending + done), {staged.identity: DELIVERED for staged in done},
            {staged.identity: finished for staged in done})


def test_the_drain_rate_says_when_the_backlog_is_delivered_within_the_hours_left() -> None:
    listing, states, finished_at = _backlog(30, 10, 4)
    report = measure_lag(listing, states, now=NOW, finished_at=finished_at)
    assert (report.pending_mb, report.drained_mb_per_hour, report.arriving_mb_per_hour) == (11.0, 4.0, 1.0)
    assert report.hours_to_clear == pytest.approx(11 / 3, abs=0.001) and report.hours_left == 18.0
    verdict = judge(report, LagThresholds())
    assert verdict.status == "waiting"
    assert "delivered in about 3.7 h, within the 18.0 h left" in verdict.warning


@pytest.mark.parametrize(("delivered_minutes_ago", "delivered", "outlook"), [
    (10, 2, "the backlog takes about 11.0 h, and Braze's loss window closes in 8.0 h"),
    (90, 4, "the backlog is not shrinking, and Braze's loss window closes in 8.0 h"),
])
def test_a_backlog_too_slow_to_drain_is_a_warning_long_before_the_fail_line(delivered_minutes_ago, delivered,
                                                                            outlook) -> None:
    listing, states, finished_at = _backlog(40, delivered_minutes_ago, delivered)
    report = measure_lag(listing, states, now=NOW, finished_at=finished_at)
    verdict = judge(report, LagThresholds(fail_margin_hours=4))
    assert verdict.status == "waiting"
    assert outlook in verdict.warning and "events will be lost unless delivery speeds up" in verdict.warning
