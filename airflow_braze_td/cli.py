"""`braze-td`: the command line of the provider (debugging views, sample data, the TD emulator)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import orjson


def _events(args: argparse.Namespace) -> int:
    """Print the normalised events of a staged file or prefix as JSON lines, in file order."""
    from airflow_braze_td.currents.decode import BadEvent, CorruptFileError, iter_events
    from airflow_braze_td.currents.events import EventTypeSelector
    from airflow_braze_td.currents.staging import StagingArea

    selector = EventTypeSelector(args.event_type)
    out = sys.stdout.buffer
    area = StagingArea.from_url(args.target)
    failures = 0

    def emit(events) -> None:
        nonlocal failures
        for event in events:
            if isinstance(event, BadEvent):
                failures += 1
                print(f"braze-td: skipped {event}", file=sys.stderr)
            elif selector(event["event_type"]):
                out.write(orjson.dumps(event, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))

    try:
        if area.fs.isdir(area.root):
            listing = area.list()
            for staged in listing.select(selector):
                try:
                    emit(area.iter_events(staged))
                except CorruptFileError as error:
                    failures += 1
                    print(f"braze-td: {error}", file=sys.stderr)
            if listing.unmatched:
                print(f"braze-td: {len(listing.unmatched)} key(s) match no Braze layout", file=sys.stderr)
        else:
            with area.fs.open(area.root, "rb") as stream:
                emit(iter_events(stream, args.target))
    except CorruptFileError as error:
        print(f"braze-td: {error}", file=sys.stderr)
        return 1
    except FileNotFoundError as error:
        print(f"braze-td: {error}", file=sys.stderr)
        return 2
    out.flush()
    return 1 if failures else 0


def _stage_sample(args: argparse.Namespace) -> int:
    """Write a realistic staged export tree (current Braze layout) to DEST."""
    import pendulum

    from airflow_braze_td.currents.sample import stage_sample

    end = pendulum.parse(args.end) if args.end else None
    summary = stage_sample(
        args.dest, events=args.events, hours=args.hours, seed=args.seed, codec=args.codec, end=end
    )
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return 0


def _emulator(args: argparse.Namespace) -> int:
    """Run the local Treasure Data emulator until interrupted."""
    from airflow_braze_td.emulator import serve

    serve(
        host=args.host,
        port=args.port,
        store=args.store,
        api_keys=tuple(args.api_key),
        write_keys=tuple(args.write_key),
        strict_postback=args.strict_postback,
        visibility_delay=args.visibility_delay,
        latency=args.latency_ms / 1000,
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    """Files staged, delivered, pending and quarantined per event type and queue hour; lag and hours left."""
    from airflow_braze_td.currents.events import EventTypeSelector
    from airflow_braze_td.currents.staging import StagingArea, StagingNotFoundError
    from airflow_braze_td.delivery.lag import lag_report
    from airflow_braze_td.delivery.ledger import Ledger

    ledger = Ledger.from_url(args.ledger)
    try:
        report = lag_report(StagingArea.from_url(args.staging), ledger,
                            event_types=EventTypeSelector(args.event_type), loss_window_hours=args.loss_window_hours)
    except StagingNotFoundError as error:
        print(f"braze-td: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(orjson.dumps({**report.to_dict(), "last_errors": ledger.last_errors()}, option=orjson.OPT_INDENT_2).decode())
        return 0
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
        print(f"oldest pending: {report.oldest_pending_key} ({report.oldest_pending_state})")
    print(f"lag: {report.lag_hours:.2f} h; hours left before Braze's {args.loss_window_hours:g} h loss window: "
          f"{report.hours_left:.2f}")
    for error in ledger.last_errors():
        types = ", ".join(error["event_types"]) or "every event type"
        print(f"last delivery error of {types} ({error['destination']}): {error['message']}")
    return 0


def _requeue(args: argparse.Namespace) -> int:
    """Send quarantined events again after the cause is fixed (or --discard them on purpose)."""
    from airflow_braze_td.delivery.ledger import Ledger
    from airflow_braze_td.delivery.pipeline import requeue_quarantined

    ledger = Ledger.from_url(args.ledger)
    if args.discard:
        outcome = requeue_quarantined(ledger, None, discard=True)
    else:
        from airflow.providers.common.compat.sdk import AirflowNotFoundException

        from airflow_braze_td.hooks.treasure_data import TreasureDataHook
        from airflow_braze_td.treasure_data.errors import TDError

        try:
            sink = TreasureDataHook(td_conn_id=args.conn_id).get_sink(
                args.mode, database=args.database, table=args.table, postback_url=args.postback_url,
                create_table=args.create_table,
            )
            outcome = requeue_quarantined(ledger, sink)
        except (AirflowNotFoundException, TDError, ValueError) as error:
            print(f"braze-td: {error}", file=sys.stderr)
            return 2
    print(orjson.dumps(outcome, option=orjson.OPT_INDENT_2).decode())
    return 1 if outcome.get("rejected_again") else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="braze-td", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=handler.__doc__, description=handler.__doc__)
        sub.set_defaults(handler=handler)
        return sub

    events = command("events", _events)
    events.add_argument("target", metavar="URL_OR_FILE", help="a staged file, or a staging prefix")
    events.add_argument("--event-type", action="append", default=[], metavar="PATTERN")

    sample = command("stage-sample", _stage_sample)
    sample.add_argument("dest", metavar="DEST", help="local folder or storage URL")
    sample.add_argument("--events", type=int, default=100_000)
    sample.add_argument("--hours", type=int, default=6)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--codec", default="null", choices=("null", "deflate", "snappy", "zstandard"))
    sample.add_argument("--end", help="end of the staged hours (ISO time, UTC); default: the current hour")

    emulator = command("emulator", _emulator)
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8089)
    emulator.add_argument("--store", default=":memory:", help="SQLite file, or :memory:")
    emulator.add_argument("--api-key", action="append", default=[], help="a master key (repeatable)")
    emulator.add_argument("--write-key", action="append", default=[], help="an import-only key (repeatable)")
    emulator.add_argument("--strict-postback", action="store_true", help="answer 403 to a bad postback key")
    emulator.add_argument("--visibility-delay", type=float, default=0.0, help="seconds before rows show")
    emulator.add_argument("--latency-ms", type=float, default=0.0,
                          help="hold every data request this long, as TD answering over the internet")

    status = command("status", _status)
    status.add_argument("--staging", required=True, metavar="URL")
    status.add_argument("--ledger", required=True, metavar="URL")
    status.add_argument("--event-type", action="append", default=[], metavar="PATTERN")
    status.add_argument("--loss-window-hours", type=float, default=48.0)
    status.add_argument("--json", action="store_true", help="print the report as JSON")

    requeue = command("requeue", _requeue)
    requeue.add_argument("--ledger", required=True, metavar="URL")
    requeue.add_argument("--mode", default="postback", choices=("postback", "import", "ingest"))
    requeue.add_argument("--conn-id", default="treasure_data_default", help="Airflow connection of Treasure Data")
    requeue.add_argument("--database")
    requeue.add_argument("--table")
    requeue.add_argument("--postback-url")
    requeue.add_argument("--create-table", action="store_true")
    requeue.add_argument("--discard", action="store_true", help="drop the quarantined records, recorded in the ledger")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
