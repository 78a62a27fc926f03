"""Where a delivery stands: the one report behind `braze-td status --json` and the lag page's JSON.

Both call `delivery_status`, so the command and the page give the same figures by construction. It adds to
the lag report (`lag.measure_lag`) what a person watching the loss window asks next: the same figures per
event type, the ledger's current delivery errors, the lag over the last 48 hours and the events delivered
per hour, and one verdict with its level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import pendulum

from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.currents.staging import Listing, StagingArea
from airflow_braze_td.delivery.lag import (
    HOUR,
    LagReport,
    LagThresholds,
    describe_error,
    measure_lag,
    overdue,
    staged_at,
)
from airflow_braze_td.delivery.ledger import DELIVERED, Ledger

OK = "ok"
ATTENTION = "attention"  # past the warn line
FAIL_LINE = "fail_line"  # past the fail line or Braze's loss window
HISTORY_HOURS = 48


@dataclass
class DeliveryStatus:
    """The lag report plus what `to_dict` adds; `to_dict` is what the command prints and the page serves."""

    report: LagReport
    thresholds: LagThresholds
    last_errors: list[dict]
    dedupe: dict
    ledger_found: bool
    level: str
    verdict: str
    by_event_type: list[dict]
    history: list[dict]

    def to_dict(self) -> dict:
        thresholds = self.thresholds
        return {
            **self.report.to_dict(),
            "last_errors": self.last_errors,
            "dedupe": self.dedupe,
            "ledger_found": self.ledger_found,
            "verdict": self.verdict,
            "level": self.level,
            "thresholds": {"loss_window_hours": thresholds.loss_window_hours,
                           "warn_after_hours": thresholds.warn_after_hours,
                           "fail_line_hours": thresholds.fail_line_hours},
            "by_event_type": self.by_event_type,
            "history": self.history,
        }


def delivery_status(staging: StagingArea, ledger: Ledger, thresholds: LagThresholds, *,
                    event_types: EventTypeSelector | None = None, dedupe_hours: int,
                    now: pendulum.DateTime | None = None) -> DeliveryStatus:
    """One staging listing and one ledger listing -> where the delivery stands. Reads only; writes nothing."""
    now = now or pendulum.now("UTC")
    selector = event_types or EventTypeSelector()
    listing = staging.list(selector)
    states = ledger.states()
    finished_at = ledger.finish_times()
    report = measure_lag(listing, states, now=now, event_types=selector,
                         loss_window_hours=thresholds.loss_window_hours, finished_at=finished_at)
    errors = ledger.last_errors()
    level, verdict = judge_level(report, thresholds, errors)
    return DeliveryStatus(
        report=report,
        thresholds=thresholds,
        last_errors=errors,
        dedupe=ledger.dedupe_report(dedupe_hours, selector),
        ledger_found=ledger.exists(),
        level=level,
        verdict=verdict,
        by_event_type=_by_event_type(listing, states, finished_at, errors, thresholds, now, selector),
        history=_history(listing, states, finished_at, ledger, thresholds, now, selector),
    )


def _by_event_type(listing: Listing, states: dict[str, str], finished_at: Mapping[str, float], errors: list[dict],
                   thresholds: LagThresholds, now: pendulum.DateTime, selector: EventTypeSelector) -> list[dict]:
    """Per event type: lag, pending and quarantined files, hours left, drain rate and its last delivery error."""
    by_type: dict[str, list] = {}
    for staged in listing.files:
        if selector(staged.event_type):
            by_type.setdefault(staged.event_type, []).append(staged)
    rows = []
    for event_type, files in sorted(by_type.items()):
        report = measure_lag(Listing(files), states, now=now, loss_window_hours=thresholds.loss_window_hours,
                             finished_at=finished_at)
        if not report.staged_files:
            continue
        own_errors = [error for error in errors if not error.get("event_types") or event_type in error["event_types"]]
        rows.append({
            "event_type": event_type,
            "lag_hours": report.lag_hours,
            "hours_left": report.hours_left,
            "staged_files": report.staged_files,
            "pending_files": report.pending_files,
            "pending_mb": report.pending_mb,
            "quarantined_files": report.quarantined_files,
            "drained_mb_per_hour": report.drained_mb_per_hour,
            "hours_to_clear": report.hours_to_clear,
            "last_error": own_errors[-1] if own_errors else None,
        })
    return rows


def _history(listing: Listing, states: dict[str, str], finished_at: Mapping[str, float], ledger: Ledger,
             thresholds: LagThresholds, now: pendulum.DateTime, selector: EventTypeSelector) -> list[dict]:
    """The lag at each of the last `HISTORY_HOURS` hours, rebuilt from the listing and the ledger, and the events
    delivered by the bundles that finished in the hour up to each point.

    At time t a file counts once it had landed (`staged_at`) and until its bundle finished; a file whose state a
    person set (requeue) has no finish time and counts as it stands now.
    """
    now_at = now.timestamp()
    # Hours ago (whole) -> events of the bundles that finished then: a point shows the hour that ends at it.
    delivered = Counter()
    for finished, events in ledger.delivered_events_since(now_at - (HISTORY_HOURS + 1) * HOUR, selector):
        delivered[int((now_at - finished) // HOUR)] += events
    # A file delivered before the first point is delivered at every point: only the others are looked at again.
    start = now_at - HISTORY_HOURS * HOUR
    recent = [(staged, staged_at(staged)) for staged in listing.files
              if states.get(staged.identity) != DELIVERED or finished_at.get(staged.identity, 0.0) > start]
    points = []
    for hours_ago in range(HISTORY_HOURS, -1, -1):
        moment = now.subtract(hours=hours_ago)
        at = moment.timestamp()
        landed = Listing([staged for staged, landed_at in recent if landed_at <= at])
        then = {staged.identity: state for staged in landed.files if (state := states.get(staged.identity))
                and (state != DELIVERED or finished_at.get(staged.identity, 0.0) <= at)}
        report = measure_lag(landed, then, now=moment, event_types=selector,
                             loss_window_hours=thresholds.loss_window_hours)
        points.append({"at": moment.isoformat(), "lag_hours": report.lag_hours,
                       "pending_files": report.pending_files + report.quarantined_files,
                       "delivered_events": delivered.get(hours_ago, 0)})
    return points


def judge_level(report: LagReport, thresholds: LagThresholds, errors: list[dict]) -> tuple[str, str]:
    """The level and one sentence: how far the oldest undelivered file is from each line, and what to do."""
    waiting = report.pending_files + report.quarantined_files
    if not waiting:
        return OK, f"ok: all {report.staged_files} staged file(s) due are delivered"
    lag = f"lag {report.lag_hours:.1f} h (oldest undelivered: {report.oldest_pending_key})"
    act = ("deliver now: check the delivery DAG's runs, the Treasure Data connection and the quarantine "
           "(braze-td requeue)")
    if errors:
        act += f"; {len(errors)} current delivery error(s), the newest: {describe_error(errors[-1])}"
    if report.hours_left <= 0:
        return FAIL_LINE, (f"PAST THE LOSS WINDOW: {lag} is {-report.hours_left:.1f} h past Braze's "
                           f"{thresholds.loss_window_hours:g} h loss window: {act}")
    if overdue(report, thresholds.fail_line_hours):
        return FAIL_LINE, (f"PAST THE FAIL LINE: {lag} is past the fail line of {thresholds.fail_line_hours:g} h; "
                           f"{report.hours_left:.1f} h are left before Braze's loss window closes: {act}")
    if overdue(report, thresholds.warn_after_hours):
        return ATTENTION, (f"past the warn line: {lag} is past the warn line of {thresholds.warn_after_hours:g} h; "
                           f"the fail line of {thresholds.fail_line_hours:g} h is "
                           f"{thresholds.fail_line_hours - report.lag_hours:.1f} h away")
    return OK, (f"ok: {waiting} file(s) waiting, {lag}, below the warn line of "
                f"{thresholds.warn_after_hours:g} h")
