"""`events`, `stage-sample` and `emulator`: look at staged data, make some, and stand in for Treasure Data."""

from __future__ import annotations

import argparse
import errno
import socket
import sqlite3
import sys
from collections.abc import Iterator

import orjson

from airflow_braze_td.cli.errors import ATTENTION, OK, CliError, storage


def events(args: argparse.Namespace) -> int:
    """Print the normalised events of a staged file or prefix as JSON lines, in file order.

    This is exactly what the delivery sends. A record or file that cannot be read is named on stderr and
    skipped.
    """
    from airflow_braze_td.currents.decode import BadEvent, CorruptFileError, iter_events
    from airflow_braze_td.currents.events import EventTypeSelector
    from airflow_braze_td.currents.layout import format_of_name
    from airflow_braze_td.currents.staging import StagingArea

    selector = EventTypeSelector(args.event_type)
    area = StagingArea(*storage(args.target))
    if not area.fs.exists(area.root):
        raise CliError(f"no staged file or staging prefix at {args.target}")
    out = sys.stdout.buffer
    failures = 0

    def emit(events: Iterator[dict | BadEvent]) -> None:
        nonlocal failures
        for event in events:
            if isinstance(event, BadEvent):
                failures += 1
                print(f"braze-td: skipped {event}", file=sys.stderr)
            elif selector(event["event_type"]):
                out.write(orjson.dumps(event, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))

    if area.fs.isdir(area.root):
        for staged in area.list().select(selector):
            try:
                emit(area.iter_events(staged))
            except CorruptFileError as error:
                failures += 1
                print(f"braze-td: {error}", file=sys.stderr)
    else:
        try:
            with area.fs.open(area.root, "rb") as stream:
                emit(iter_events(stream, args.target, fmt=format_of_name(args.target)))
        except CorruptFileError as error:
            failures += 1
            print(f"braze-td: {error}", file=sys.stderr)
    out.flush()
    return ATTENTION if failures else OK


def stage_sample(args: argparse.Namespace) -> int:
    """Write a realistic staged export tree (Braze's current key layout) to DEST; the same seed, the same bytes.

    Many event types with their real field sets, several files per type and hour, late events, users
    without an external id and about 1 % duplicate ids. DEST must be empty unless --force: two samples in
    one folder would mix. Prints a summary as JSON.
    """
    from airflow_braze_td.currents.sample import stage_sample as write_sample

    fs, root = storage(args.dest, "DEST")
    if fs.isfile(root):
        raise CliError(f"DEST {args.dest} is a file; give a folder")
    if not args.force and fs.isdir(root) and fs.ls(root, detail=False):
        raise CliError(f"DEST {args.dest} is not empty, and a second sample would mix with what is there: "
                       "give an empty or new folder, or add --force to write into it anyway")
    summary = write_sample(args.dest, events=args.events, hours=args.hours, seed=args.seed, codec=args.codec,
                           end=args.end)
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return OK


def emulator(args: argparse.Namespace) -> int:
    """Run the local Treasure Data emulator until Ctrl-C or SIGTERM; the first line printed is its URL."""
    from airflow_braze_td.emulator import serve

    try:
        serve(host=args.host, port=args.port, store=args.store, api_keys=tuple(args.api_key),
              write_keys=tuple(args.write_key), strict_postback=args.strict_postback,
              visibility_delay=args.visibility_delay, latency=args.latency_ms / 1000)
    except sqlite3.Error as error:
        raise CliError(f"cannot open the emulator's --store {args.store} ({error}): give a file in a folder "
                       "that exists and is writable, or :memory:") from error
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CliError(f"port {args.port} on {args.host} is in use (an emulator still running?): stop what "
                           "holds it, or give another --port (0 picks a free one)") from error
        if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
            raise CliError(f"cannot listen on --host {args.host}: not an address of this machine") from error
        raise
    return OK
