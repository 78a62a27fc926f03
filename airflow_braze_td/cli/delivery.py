"""`status` and `requeue`: where the delivery stands and what to do next, in words (or `--json` for scripts)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import TYPE_CHECKING

import orjson

from airflow_braze_td.cli.errors import ATTENTION, FAIL_LINE, OK, CliError, storage
from airflow_braze_td.delivery import status as levels
from airflow_braze_td.delivery.lag import LagReport, LagThresholds, describe_error
from airflow_braze_td.delivery.ledger import Ledger
from airflow_braze_td.delivery.status import delivery_status

if TYPE_CHECKING:
    from airflow_braze_td.delivery.sink import Sink


_EXIT_CODES = {levels.OK: OK, levels.ATTENTION: ATTENTION, levels.FAIL_LINE: FAIL_LINE}


def _ledger(url: str) -> Ledger:
    return Ledger(*storage(url, "--ledger"))


def _no_ledger(url: str) -> str:
    return f"no ledger at {url}: nothing delivered yet, or a wrong path"


def _note(message: str) -> None:
    print(f"braze-td: {message}", file=sys.stderr)


def _json(value: object) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def status(args: argparse.Namespace) -> int:
    """Files staged, delivered, pending and quarantined per event type and queue hour; the lag, and what to do.

    The exit code is for cron jobs and CI checks (below); anything past the warn line is also one line on
    stderr. The warn and fail lines are the lag sensor's.
    """
    from airflow_braze_td.currents.events import EventTypeSelector
    from airflow_braze_td.currents.staging import StagingArea

    try:
        thresholds = LagThresholds(args.loss_window_hours, args.fail_margin_hours, args.warn_after_hours)
    except ValueError as error:
        raise CliError(f"--fail-margin-hours ({args.fail_margin_hours:g}) must be below --loss-window-hours "
                       f"({args.loss_window_hours:g})") from error
    ledger = _ledger(args.ledger)
    status = delivery_status(StagingArea(*storage(args.staging, "--staging")), ledger, thresholds,
                             event_types=EventTypeSelector(args.event_type), dedupe_hours=args.dedupe_hours)
    report, found, errors, verdict = status.report, status.ledger_found, status.last_errors, status.verdict
    code = _EXIT_CODES[status.level]
    if args.json:
        _json({**status.to_dict(), "exit_code": code})
    else:
        _print_status(report, thresholds, args.ledger, errors)
        _print_dedupe(status.dedupe)
        if code == OK:
            print(verdict)
    if not found:
        _note(_no_ledger(args.ledger))
    if code != OK:
        _note(verdict)
    return code


def _print_status(report: LagReport, thresholds: LagThresholds, ledger_url: str, errors: list[dict]) -> None:
    print(f"{'event type':<52} {'queue hour':<20} {'staged':>7} {'deliv.':>7} {'pending':>7} {'quar.':>6}")
    for row in report.by_hour:
        print(f"{row['event_type']:<52} {row['queue_hour'][:16]:<20} {row['staged']:>7} {row['delivered']:>7} "
              f"{row['pending']:>7} {row['quarantined']:>6}")
    print(f"\nfiles: {report.staged_files} staged, {report.delivered_files} delivered, {report.pending_files} pending, "
          f"{report.quarantined_files} quarantined; {report.unmatched_keys} key(s) match no layout; "
          f"{report.not_due_files} queued after now (not due)")
    if report.unmatched_examples:
        print(f"keys matching no layout (not delivered), e.g.: {', '.join(report.unmatched_examples)}")
    if report.unknown_event_types:
        print(f"event types not in the catalog (delivered as they are): {', '.join(report.unknown_event_types)}")
    if report.oldest_pending_key:
        print(f"oldest undelivered: {report.oldest_pending_key} ({report.oldest_pending_state})")
    if report.quarantined_files:
        print(f"quarantined: {report.quarantined_files} file(s); once the cause is fixed, "
              f"`braze-td requeue --ledger {ledger_url}` sends them again (or --discard drops them)")
    left = (f"{report.hours_left:.2f} h left before" if report.hours_left > 0
            else f"{-report.hours_left:.2f} h PAST")
    print(f"lag: {report.lag_hours:.2f} h; warn line {thresholds.warn_after_hours:g} h, fail line "
          f"{thresholds.fail_line_hours:g} h; {left} Braze's {thresholds.loss_window_hours:g} h loss window")
    for error in errors:
        print(f"last delivery error {describe_error(error)}")


def _print_dedupe(dedupe: dict) -> None:
    """Events delivered against distinct ids: a duplicate the window missed (copies further apart) shows."""
    line = (f"dedupe, last {dedupe['report_hours']} queue hours: {dedupe['events_delivered']:,} event(s) delivered, "
            f"{dedupe['distinct_ids']:,} distinct id(s); "
            f"window {dedupe['window_hours']} h, holding {dedupe['ids_in_window']:,} id(s)")
    late = {event_type: row["duplicates_delivered"] for event_type, row in dedupe["by_event_type"].items()
            if row["duplicates_delivered"]}
    if late:
        line += (f"; {dedupe['duplicates_delivered']:,} duplicate(s) delivered, their copies further apart than the "
                 f"window: " + ", ".join(f"{event_type} ({count:,})" for event_type, count in late.items()))
    print(line)


def requeue(args: argparse.Namespace) -> int:
    """Send quarantined events again once the cause is fixed, or --discard them on purpose.

    Events accepted now leave the quarantine; events rejected again stay, with the new reason. An unreadable
    file's record only leaves with --discard (replace the file in the staging prefix first: a rewritten
    file is delivered as a new one). A Treasure Data connection is needed only when there are events to send.
    """
    from airflow_braze_td.delivery.requeue import requeue_quarantined

    ledger = _ledger(args.ledger)
    if not ledger.exists():
        raise CliError(_no_ledger(args.ledger))
    records = [record for _, record in ledger.quarantined()]
    if not records:
        outcome: dict = {}
    elif args.discard:
        outcome = requeue_quarantined(ledger, None, discard=True)
    elif any(record.get("events") for record in records):
        outcome = requeue_quarantined(ledger, _sink(args))
    else:
        outcome = {"records_kept": len(records)}
    kept = [_kept(record) for _, record in ledger.quarantined()]
    if args.json:
        _json({**outcome, "kept": kept})
    else:
        _print_requeue(args.ledger, len(records), outcome, kept)
    if not kept:
        return OK
    _note(f"{len(kept)} quarantine record(s) kept, of {len({entry['key'] for entry in kept})} file(s): fix or "
          "replace what they name, then requeue again, or --discard them")
    return ATTENTION


def _sink(args: argparse.Namespace) -> Sink:
    """The sink to resend with, from the Airflow connection; a missing connection is one line naming the fix."""
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    from airflow_braze_td.hooks.treasure_data import TreasureDataHook

    try:
        return TreasureDataHook(td_conn_id=args.conn_id).get_sink(
            args.mode, database=args.database, table=args.table, postback_url=args.postback_url,
            create_table=args.create_table,
        )
    except AirflowNotFoundException as error:
        raise CliError(str(error)) from error


def _kept(record: dict) -> dict:
    """One quarantine record still open: its file, how many events (0: the file itself is unreadable), why."""
    events = record.get("events") or ()
    if not events:
        where = f"after {record.get('record_index', 0)} records read"
        return {"key": record["key"], "events": 0, "reasons": {f"{record.get('reason')} ({where})": 1}}
    return {"key": record["key"], "events": len(events),
            "reasons": dict(Counter(str(entry.get("reason")) for entry in events).most_common())}


def _print_requeue(ledger_url: str, records: int, outcome: dict, kept: list[dict]) -> None:
    if not records:
        print(f"nothing is quarantined in the ledger at {ledger_url}: nothing to requeue")
        return
    if outcome.get("discarded_records"):
        print(f"discarded {outcome['discarded_records']} quarantine record(s) on purpose (kept in the ledger's "
              "discarded/)")
    if "sent" in outcome or "rejected_again" in outcome:
        print(f"sent again: {outcome.get('sent', 0)} event(s) accepted by Treasure Data")
    if outcome.get("files_delivered"):
        print(f"{outcome['files_delivered']} file(s) now count as delivered")
    for entry in kept:
        reasons = "; ".join(f"{reason} ({count})" if entry["events"] else reason
                            for reason, count in entry["reasons"].items())
        what = f"{entry['events']} event(s) of" if entry["events"] else "unreadable file"
        print(f"kept: {what} {entry['key']}: {reasons}")
    if any(entry["events"] for entry in kept):
        print("next: fix what Treasure Data rejects (the reasons above) and run requeue again, or drop those events "
              "with --discard")
    if any(not entry["events"] for entry in kept):
        print("next: replace each unreadable file in the staging prefix (a rewritten file is delivered as a new "
              "one), then drop its record with --discard")
    if not kept:
        print("the quarantine is empty")
