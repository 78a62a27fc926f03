"""Delivery lag: how close the oldest undelivered staged file is to Braze's loss window.

Lag = now - queue hour of the oldest staged file that the ledger does not show as delivered;
quarantined data counts as not delivered. Computed from one staging listing and one ledger listing.
A file queued after now (a wrong clock or key) is not due: it is neither delivered early nor lag.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import pendulum

from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.currents.layout import StagedFile, unknown_event_types
from airflow_braze_td.currents.staging import Listing, StagingArea
from airflow_braze_td.delivery.ledger import DELIVERED, QUARANTINED, Ledger

log = logging.getLogger(__name__)

HOUR = 3600.0
EXAMPLES = 5
DRAIN_WINDOW_SECONDS = HOUR  # the drain and arrival rates are those of the last hour
MB = 1_000_000


@dataclass(frozen=True)
class LagThresholds:
    """Fail at `loss_window - fail_margin` so someone can act before Braze drops the events."""

    loss_window_hours: float = 48.0
    fail_margin_hours: float = 12.0
    warn_after_hours: float = 6.0
    max_staging_silence_hours: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.fail_margin_hours < self.loss_window_hours:
            raise ValueError("fail_margin_hours must be at least 0 and below loss_window_hours")

    @property
    def fail_line_hours(self) -> float:
        return self.loss_window_hours - self.fail_margin_hours


# The defaults of the sensor, the trigger and `braze-td status`: Braze's 48-hour loss window, failing 12 hours
# before it closes and warning after 6 hours of lag.
DEFAULT_THRESHOLDS = LagThresholds()


@dataclass
class LagReport:
    """Plain values, for XCom, trigger events, `braze-td status --json` and messages."""

    checked_at: str
    loss_window_hours: float
    staged_files: int = 0
    delivered_files: int = 0
    pending_files: int = 0
    quarantined_files: int = 0
    not_due_files: int = 0
    unmatched_keys: int = 0
    unmatched_examples: list[str] = field(default_factory=list)
    unknown_event_types: list[str] = field(default_factory=list)
    oldest_pending_key: str | None = None
    oldest_pending_hour: str | None = None
    oldest_pending_state: str | None = None
    lag_hours: float = 0.0
    hours_left: float = 0.0
    newest_staged_at: str | None = None
    staging_silence_hours: float | None = None
    pending_mb: float = 0.0
    drained_mb_per_hour: float = 0.0
    arriving_mb_per_hour: float = 0.0
    # At the last hour's rates, hours until nothing is pending; None when the backlog is not shrinking.
    hours_to_clear: float | None = None
    by_hour: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def staged_at(staged: StagedFile) -> float:
    """When the file landed: its mtime when the store gives one, else the end of its queue hour."""
    return staged.mtime if staged.mtime else staged.queue_hour_timestamp + HOUR


def measure_lag(
    listing: Listing,
    states: dict[str, str],
    *,
    now: pendulum.DateTime | None = None,
    event_types: EventTypeSelector | None = None,
    loss_window_hours: float = DEFAULT_THRESHOLDS.loss_window_hours,
    finished_at: Mapping[str, float] | None = None,
) -> LagReport:
    """Lag of the files due by `now` (queue hour before it), with a per event type and hour breakdown, and
    how fast the backlog drains: bytes delivered in the last hour (`finished_at`: when each file's bundle
    finished) against bytes staged in it."""
    now = now or pendulum.now("UTC")
    selector = event_types or EventTypeSelector()
    report = LagReport(checked_at=now.isoformat(), loss_window_hours=loss_window_hours,
                       unmatched_keys=len(listing.unmatched), unmatched_examples=listing.unmatched[:EXAMPLES])
    rows: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"staged": 0, "delivered": 0, "pending": 0, "quarantined": 0}
    )
    oldest: StagedFile | None = None
    newest_staged_at = 0.0
    due_types: set[str] = set()
    finished_at = finished_at or {}
    recent = now.timestamp() - DRAIN_WINDOW_SECONDS
    pending_bytes = drained_bytes = arrived_bytes = 0
    for staged in listing.files:
        if not selector(staged.event_type):
            continue
        if staged.queue_hour > now:
            report.not_due_files += 1
            continue
        due_types.add(staged.event_type)
        landed_at = staged_at(staged)
        newest_staged_at = max(newest_staged_at, landed_at)
        if landed_at >= recent:
            arrived_bytes += staged.size
        state = states.get(staged.identity)
        row = rows[(staged.event_type, staged.queue_hour.isoformat())]
        row["staged"] += 1
        report.staged_files += 1
        if state == DELIVERED:
            row["delivered"] += 1
            report.delivered_files += 1
            if finished_at.get(staged.identity, 0.0) >= recent:
                drained_bytes += staged.size
            continue
        if state == QUARANTINED:
            row["quarantined"] += 1
            report.quarantined_files += 1
        else:
            row["pending"] += 1
            report.pending_files += 1
            pending_bytes += staged.size
        if oldest is None or staged.sort_key < oldest.sort_key:
            oldest = staged
    if oldest is not None:
        report.oldest_pending_key = oldest.key
        report.oldest_pending_hour = oldest.queue_hour.isoformat()
        report.oldest_pending_state = states.get(oldest.identity, "pending")
        report.lag_hours = round((now.int_timestamp - oldest.queue_hour_timestamp) / HOUR, 3)
    report.hours_left = round(loss_window_hours - report.lag_hours, 3)
    report.pending_mb = round(pending_bytes / MB, 3)
    report.drained_mb_per_hour = round(drained_bytes / MB * HOUR / DRAIN_WINDOW_SECONDS, 3)
    report.arriving_mb_per_hour = round(arrived_bytes / MB * HOUR / DRAIN_WINDOW_SECONDS, 3)
    shrinking = drained_bytes - arrived_bytes
    if pending_bytes and shrinking > 0:
        report.hours_to_clear = round(pending_bytes / shrinking * DRAIN_WINDOW_SECONDS / HOUR, 3)
    elif not pending_bytes:
        report.hours_to_clear = 0.0
    report.unknown_event_types = unknown_event_types(due_types)
    if newest_staged_at:
        report.newest_staged_at = pendulum.from_timestamp(newest_staged_at, tz="UTC").isoformat()
        report.staging_silence_hours = round(max(0.0, now.timestamp() - newest_staged_at) / HOUR, 3)
    report.by_hour = [
        {"event_type": event_type, "queue_hour": hour, **counts} for (event_type, hour), counts in sorted(rows.items())
    ]
    return report


def pending_files(listing: Listing, states: dict[str, str], *, event_types: EventTypeSelector | None = None,
                  until: pendulum.DateTime | None = None, now: pendulum.DateTime | None = None) -> list[StagedFile]:
    """Files not yet processed (no ledger state) queued before `until`, including late files in past hours.

    Whatever `until` says, a file queued after `now` is not due: it is logged and left for a later run.
    Only the unprocessed files are selected and sorted, not the whole listing, which may be mostly delivered.
    """
    now = now or pendulum.now("UTC")
    unprocessed = Listing([staged for staged in listing.files if staged.identity not in states])
    due: list[StagedFile] = []
    not_due: list[StagedFile] = []
    for staged in unprocessed.select(event_types, until=until):
        (due if staged.queue_hour <= now else not_due).append(staged)
    if not_due:
        log_not_due(not_due, now)
    return due


def log_not_due(files: list[StagedFile], now: pendulum.DateTime) -> None:
    """Warn that files queued after `now` were left out, naming the first few."""
    log.warning(
        "%d staged file(s) are queued after now (%s) and are not due: they are left for a later run. A queue hour "
        "in the future means a clock or key naming problem on the Braze side; e.g. %s",
        len(files), now.isoformat(), ", ".join(staged.key for staged in files[:EXAMPLES]),
    )


def lag_report(staging: StagingArea, ledger: Ledger, *, event_types: EventTypeSelector | None = None,
               loss_window_hours: float = DEFAULT_THRESHOLDS.loss_window_hours,
               now: pendulum.DateTime | None = None) -> LagReport:
    """One staging listing plus one ledger listing -> the lag report."""
    states = ledger.states()
    return measure_lag(staging.list(event_types), states, now=now, event_types=event_types,
                       loss_window_hours=loss_window_hours, finished_at=ledger.finish_times())


@dataclass(frozen=True)
class LagStatus:
    """Where delivery stands: "delivered", "waiting", "failed" (past a fail line), "handed_over" (still waiting
    after the check's time) or "error" (the check itself could not run); `report` unless an error."""

    status: str
    message: str
    warning: str | None = None
    report: LagReport | None = None

    def to_dict(self) -> dict:
        """Plain values, for a trigger event."""
        return {"status": self.status, "message": self.message, "warning": self.warning,
                "report": self.report.to_dict() if self.report else None}

    @classmethod
    def from_dict(cls, values: dict) -> LagStatus:
        report = values.get("report")
        return cls(values["status"], values["message"], values.get("warning"),
                   LagReport(**report) if report else None)


def check_lag(
    staging: StagingArea,
    ledger: Ledger,
    thresholds: LagThresholds = DEFAULT_THRESHOLDS,
    *,
    event_types: EventTypeSelector | None = None,
    hand_over_at: float | None = None,
    now: pendulum.DateTime | None = None,
) -> LagStatus:
    """The lag check of the sensor and its trigger: one staging listing and one ledger listing, judged against
    `thresholds`; still waiting at or after `hand_over_at` (Unix time), the watch is handed over."""
    now = now or pendulum.now("UTC")
    report = lag_report(staging, ledger, event_types=event_types, loss_window_hours=thresholds.loss_window_hours,
                        now=now)
    status = judge(report, thresholds, ledger.last_errors)
    if status.status == "waiting" and hand_over_at is not None and now.timestamp() >= hand_over_at:
        return replace(status, status="handed_over",
                       message=f"{status.message}; handing the watch over to the next run's check")
    return status


def overdue(report: LagReport, hours: float) -> bool:
    """Whether a file due and not delivered (pending or quarantined) has waited `hours` or longer."""
    return bool(report.pending_files + report.quarantined_files) and report.lag_hours >= hours


def judge(
    report: LagReport, thresholds: LagThresholds, last_errors: Callable[[], Sequence[dict]] = tuple
) -> LagStatus:
    """Delivered, still waiting, or failed: at or past the fail line the DAG must fail loudly, with the
    current delivery errors (`last_errors`, read only then: a check that passes costs no more reads)."""
    fail_line = thresholds.fail_line_hours
    silence = report.staging_silence_hours
    silence_limit = thresholds.max_staging_silence_hours
    if overdue(report, fail_line):
        return LagStatus("failed", _lag_message(report, thresholds, last_errors()), report=report)
    if silence_limit is not None and silence is not None and silence >= fail_line:
        return LagStatus(
            "failed",
            f"No Braze Currents file has been staged for {silence:.1f} h (newest at {report.newest_staged_at}), "
            f"past the fail line of {fail_line:.1f} h. Braze may be unable to write to the bucket: check the "
            "Currents integration's credentials and bucket permissions in Braze. Braze drops what it cannot "
            "write (after 48 hours on Azure, 5 days on S3 and GCS).",
            report=report,
        )
    warnings: list[str] = []
    if overdue(report, thresholds.warn_after_hours):
        warnings.append(
            f"Delivery lag is {report.lag_hours:.1f} h (oldest pending {report.oldest_pending_key}); the DAG fails "
            f"at {fail_line:.1f} h, {report.hours_left:.1f} h before Braze's loss window closes. "
            + drain_outlook(report)
        )
    elif silence_limit is not None and silence is not None and silence >= silence_limit:
        warnings.append(f"No Braze Currents file has been staged for {silence:.1f} h (limit {silence_limit:.1f} h).")
    if report.unmatched_keys:
        warnings.append(
            f"{report.unmatched_keys} object(s) under the staging prefix match no Braze Currents key layout and are "
            f"not delivered (e.g. {', '.join(report.unmatched_examples)}); if Braze changed its file naming, "
            "their events are not counted in this lag."
        )
    warning = " ".join(warnings) or None
    if report.pending_files + report.quarantined_files:
        return LagStatus(
            "waiting",
            f"{report.pending_files} file(s) pending and {report.quarantined_files} quarantined; "
            f"lag {report.lag_hours:.1f} h of a {fail_line:.1f} h fail line",
            warning,
            report,
        )
    return LagStatus("delivered", f"all {report.staged_files} staged file(s) due are delivered", warning, report)


def drain_outlook(report: LagReport) -> str:
    """How fast the backlog shrinks (the last hour's deliveries against its arrivals) and whether it is gone
    before Braze's loss window closes: a backlog too slow to drain is said now, not at the fail line."""
    rates = (f"Delivered {report.drained_mb_per_hour:.1f} MB/h against {report.arriving_mb_per_hour:.1f} MB/h "
             f"staged in the last hour, with {report.pending_mb:.1f} MB pending")
    if report.hours_to_clear is not None and report.hours_to_clear < report.hours_left:
        return (f"{rates}: at that rate the backlog is delivered in about {report.hours_to_clear:.1f} h, within "
                f"the {report.hours_left:.1f} h left.")
    outlook = ("the backlog is not shrinking" if report.hours_to_clear is None
               else f"the backlog takes about {report.hours_to_clear:.1f} h")
    return (f"{rates}: {outlook}, and Braze's loss window closes in {report.hours_left:.1f} h, so events will "
            "be lost unless delivery speeds up: fix the delivery errors, map the delivery over more workers, "
            "or raise requests_in_flight.")


def _lag_message(report: LagReport, thresholds: LagThresholds, last_errors: Sequence[dict]) -> str:
    message = (
        f"Braze Currents delivery lag is {report.lag_hours:.1f} h, at or past the fail line of "
        f"{thresholds.fail_line_hours:.1f} h ({thresholds.loss_window_hours:g} h loss window - "
        f"{thresholds.fail_margin_hours:g} h margin). Oldest undelivered file: {report.oldest_pending_key} "
        f"(queue hour {report.oldest_pending_hour}, {report.oldest_pending_state}, age {report.lag_hours:.1f} h); "
        f"{report.hours_left:.1f} h are left before Braze's loss window closes and its events are dropped for good. "
        f"{report.pending_files} file(s) pending, {report.quarantined_files} quarantined. Likely causes: a wrong "
        "Treasure Data URL, key or region in the connection; a stuck quarantine (see `braze-td status` and "
        "`braze-td requeue`); or delivery tasks failing."
    )
    for error in last_errors:
        message += f" Last delivery error {describe_error(error)}"
    return message


def describe_error(error: dict) -> str:
    """One of the ledger's current delivery errors: which event types, to where, when, and the message."""
    types = ", ".join(error.get("event_types") or ()) or "every event type"
    at = pendulum.from_timestamp(error["at"], tz="UTC").isoformat()
    return f"of {types} ({error.get('destination')}, {at}): {error['message']}"
