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
    )
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
