"""Listing load: the pending-file listing and the lag sensor's check over a staging prefix of 100,000 files.

Creates N tiny staged files under current-layout keys (`layout.staged_key`: 20 event types, 3 partitions,
spread over the last 50 queue hours), marks every other one delivered in a ledger through `Ledger.set_state`,
then times each read path `--repeat` times and prints the best and median figures. Only listing is
measured, so the files are empty. The sensor check runs with a 1,000-hour window, so its verdict is
`waiting`: every file is read as due and half of them as pending.

    .venv/bin/python benchmarks/listing_load.py [--files 100000] [--repeat 3] [--json PATH] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pendulum

from airflow_braze_td.currents.catalog import EVENT_TYPES
from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.lag import LagStatus, lag_report, pending_files
from airflow_braze_td.delivery.ledger import DELIVERED, Ledger

EVENT_TYPE_COUNT = 20
HOURS = 50
PARTITIONS = 3
END = pendulum.now("UTC").start_of("hour")


def stage_files(root: Path, files: int) -> None:
    """`files` empty objects under current-layout keys, spread over event types, hours and partitions."""
    event_types = EVENT_TYPES[:EVENT_TYPE_COUNT]
    made_dirs: set[Path] = set()
    for number in range(files):
        event_type = event_types[number % EVENT_TYPE_COUNT]
        hour = END.subtract(hours=1 + (number // EVENT_TYPE_COUNT) % HOURS)
        key = staged_key(event_type=event_type, queue_hour=hour, partition=number % PARTITIONS, offset=number)
        path = root / key
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        path.touch()


def timed(action: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """Wall-clock seconds of each of `repeat` calls, and the last call's result."""
    seconds: list[float] = []
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def sensor_check(staging_url: str, ledger_url: str) -> Callable[[], LagStatus]:
    """The lag sensor's own check (`DeliveryLagTrigger.check`), imported late: it loads Airflow."""
    from airflow_braze_td.triggers.delivery_lag import DeliveryLagTrigger

    trigger = DeliveryLagTrigger(staging_url, ledger_url, loss_window_hours=1_000)
    return trigger.check


def run(workdir: Path, files: int, repeat: int) -> dict:
    staging_root, ledger_root = workdir / "staging", workdir / "ledger"
    started = time.perf_counter()
    stage_files(staging_root, files)
    staged_seconds = time.perf_counter() - started
    staging = StagingArea.from_url(str(staging_root))
    ledger = Ledger.from_url(str(ledger_root))
    started = time.perf_counter()
    for staged in staging.list().files[::2]:
        ledger.set_state(staged, DELIVERED)
    ledger_seconds = time.perf_counter() - started
    now = pendulum.now("UTC")

    list_seconds, listing = timed(staging.list, repeat)
    states_seconds, states = timed(ledger.states, repeat)
    pending_seconds, pending = timed(lambda: pending_files(listing, states, until=now, now=now), repeat)
    report_seconds, report = timed(lambda: lag_report(staging, ledger, now=now), repeat)
    check_seconds, outcome = timed(sensor_check(str(staging_root), str(ledger_root)), repeat)

    def figures(seconds: list[float]) -> dict:
        return {"best_s": round(min(seconds), 3), "median_s": round(statistics.median(seconds), 3)}

    return {
        "files": files,
        "listed_files": len(listing.files),
        "delivered_in_ledger": len(states),
        "pending_count": len(pending),
        "lag_report_pending": report.pending_files,
        "sensor_status": outcome.status,
        "setup": {"stage_s": round(staged_seconds, 1), "ledger_s": round(ledger_seconds, 1)},
        "staging_list": figures(list_seconds),
        "ledger_states": figures(states_seconds),
        "pending_files": figures(pending_seconds),
        "lag_report": figures(report_seconds),
        "sensor_check": figures(check_seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON")
    parser.add_argument("--workdir", type=Path, help="keep the staged tree here (default: a temporary folder)")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run(args.workdir, args.files, args.repeat)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = run(Path(folder), args.files, args.repeat)
    print(f"staged {result['files']:,} files in {result['setup']['stage_s']} s; marked "
          f"{result['delivered_in_ledger']:,} delivered in {result['setup']['ledger_s']} s")
    for name in ("staging_list", "ledger_states", "pending_files", "lag_report", "sensor_check"):
        print(f"{name:<14} best {result[name]['best_s']:>7.3f} s   median {result[name]['median_s']:>7.3f} s")
    print(f"{result['pending_count']:,} pending files; sensor verdict {result['sensor_status']}; "
          f"peak RSS {result['peak_rss_mb']} MB")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
