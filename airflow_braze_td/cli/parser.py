"""The `braze-td` arguments: checked as they are parsed, each with its default shown in `--help`."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import NoReturn

import pendulum

import airflow_braze_td.cli as command_line
from airflow_braze_td.cli import delivery, tools
from airflow_braze_td.cli.errors import ATTENTION, ERROR, EXIT_CODES, FAIL_LINE, OK
from airflow_braze_td.coerce import as_number
from airflow_braze_td.currents.sample import CODECS
from airflow_braze_td.delivery.filters import DEFAULT_DEDUPE_HOURS
from airflow_braze_td.delivery.lag import DEFAULT_THRESHOLDS
from airflow_braze_td.treasure_data.sinks import MODES


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-code epilog as written, and shows every option's default that says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        silent = default is None or default is False or default == [] or default is argparse.SUPPRESS
        if action.option_strings and not silent and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """A bad argument is one line naming it, and exit code 3 (2 means "past the fail line" for `status`)."""

    def error(self, message: str) -> NoReturn:
        self.exit(ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value

    return parse


def _number(minimum: float) -> Callable[[str], float]:
    """A flag's number, read as templated numbers are (`coerce.as_number`: finite), at least `minimum`."""
    def parse(text: str) -> float:
        try:
            value = as_number(text, "the value")
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, not {text}")
        return value

    return parse


def _utc_time(text: str) -> pendulum.DateTime:
    try:
        value = pendulum.parse(text, tz="UTC")
    except ValueError:
        value = None
    if not isinstance(value, pendulum.DateTime):
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date and time, e.g. 2026-11-30T10:00:00Z")
    return value


def build_parser() -> argparse.ArgumentParser:
    debug = "show debug logs, and a traceback on failure"
    parser = _Parser(prog="braze-td", description=inspect.cleandoc(command_line.__doc__ or ""),
                     epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    parser.add_argument("--debug", action="store_true", help=debug)
    # Also accepted after the command; not given there, it leaves the value given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], *codes: tuple[int, str]
                ) -> argparse.ArgumentParser:
        description = inspect.cleandoc(handler.__doc__ or "")
        epilog = "\n".join(["exit codes:", *(f"  {code}  {meaning}" for code, meaning in codes)])
        sub = commands.add_parser(name, help=description.split("\n\n")[0], description=description,
                                  parents=[common], formatter_class=_HelpFormatter, epilog=epilog)
        sub.set_defaults(handler=handler)
        return sub

    events = command("events", tools.events, (OK, "every record printed"),
                     (ATTENTION, "records or files skipped, each named on stderr"), (ERROR, "an error"))
    events.add_argument("target", metavar="URL_OR_FILE", help="a staged file, or a staging prefix (folder or URL)")
    events.add_argument("--event-type", action="append", default=[], metavar="PATTERN",
                        help="only these event types (a name, or a glob such as 'users.messages.*'; repeatable); "
                             "default: all")

    sample = command("stage-sample", tools.stage_sample, (OK, "written"), (ERROR, "an error"))
    sample.add_argument("dest", metavar="DEST", help="an empty local folder or storage URL")
    sample.add_argument("--events", type=_whole(0), default=100_000, help="distinct events to write")
    sample.add_argument("--hours", type=_whole(1), default=6, help="queue hours to spread them over")
    sample.add_argument("--seed", type=int, default=0, help="the same seed and options give the same bytes")
    sample.add_argument("--codec", default="null", choices=CODECS,
                        help="Avro codec")
    sample.add_argument("--end", type=_utc_time, metavar="TIME",
                        help="end of the staged hours (ISO time, UTC); default: the current hour")
    sample.add_argument("--force", action="store_true", help="write into a DEST that is not empty (files of the "
                        "same names are replaced, the others stay)")

    emulator = command("emulator", tools.emulator, (OK, "stopped by Ctrl-C or SIGTERM"),
                       (ERROR, "an error, e.g. the port is in use"))
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emulator.add_argument("--port", type=_whole(0, 65535), default=8089, help="0 picks a free port (printed)")
    emulator.add_argument("--store", default=":memory:", help="SQLite file to keep the data in, or :memory:")
    emulator.add_argument("--api-key", action="append", default=[], metavar="KEY",
                          help="a master key (repeatable); default: any key of TD's form")
    emulator.add_argument("--write-key", action="append", default=[], metavar="KEY",
                          help="an import-only key (repeatable)")
    emulator.add_argument("--strict-postback", action="store_true", help="answer 403 to a bad postback key "
                          "(TD answers 200 always)")
    emulator.add_argument("--visibility-delay", type=_number(0), default=0.0, metavar="SECONDS",
                          help="seconds before stored rows show")
    emulator.add_argument("--latency-ms", type=_number(0), default=0.0, metavar="MS",
                          help="hold every data request this long, as TD answering over the internet")

    status = command("status", delivery.status, (OK, "nothing past the warn line"), (ATTENTION, "past the warn line"),
                     (FAIL_LINE, "past the fail line or Braze's loss window"), (ERROR, "an error"))
    status.add_argument("--staging", required=True, metavar="URL", help="the staging prefix Braze writes to")
    status.add_argument("--ledger", required=True, metavar="URL", help="the delivery ledger")
    status.add_argument("--event-type", action="append", default=[], metavar="PATTERN",
                        help="only these event types (name or glob; repeatable); default: all")
    status.add_argument("--loss-window-hours", type=_number(0), default=DEFAULT_THRESHOLDS.loss_window_hours, metavar="HOURS",
                        help="Braze's loss window")
    status.add_argument("--fail-margin-hours", type=_number(0), default=DEFAULT_THRESHOLDS.fail_margin_hours, metavar="HOURS",
                        help="the fail line is this long before the loss window closes")
    status.add_argument("--warn-after-hours", type=_number(0), default=DEFAULT_THRESHOLDS.warn_after_hours, metavar="HOURS",
                        help="the warn line")
    status.add_argument("--dedupe-hours", type=_whole(0), default=DEFAULT_DEDUPE_HOURS, metavar="HOURS",
                        help="the deliveries' dedupe window (the operator's dedupe_hours), for the ids it holds")
    status.add_argument("--json", action="store_true", help="print the report as JSON, for scripts")

    requeue = command("requeue", delivery.requeue, (OK, "nothing left in quarantine"),
                      (ATTENTION, "records kept in quarantine, each named with its reason"), (ERROR, "an error"))
    requeue.add_argument("--ledger", required=True, metavar="URL", help="the delivery ledger")
    requeue.add_argument("--mode", default="postback", choices=MODES,
                         help="the sink to send with")
    requeue.add_argument("--conn-id", default="treasure_data_default", help="Airflow connection of Treasure Data")
    requeue.add_argument("--database", help="TD database; default: the connection's")
    requeue.add_argument("--table", help="TD table (import, ingest; postback without --postback-url)")
    requeue.add_argument("--postback-url", metavar="URL", help="TD Postback URL (postback); default: the "
                         "connection's")
    requeue.add_argument("--create-table", action="store_true", help="create the TD table if it is missing")
    requeue.add_argument("--discard", action="store_true",
                         help="drop the quarantined records on purpose (kept in the ledger's discarded/)")
    requeue.add_argument("--json", action="store_true", help="print the outcome as JSON, for scripts")
    return parser
