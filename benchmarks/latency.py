"""Treasure Data's answer time and the storage's, hidden: every mode at 0 and at 50 ms, reading at 0 and at
20 ms a GET, and how large a workspace's 36-hour backlog one and two workers drain before the window closes.

One staged sample (`stage_sample`: Braze's file sizes and event-type mix), measured in one run:

1. TD latency: each mode through the example DAG (`airflow dags test`, its defaults), against the emulator
   answering at once and after `--latency-ms`. A run's delivery time is the time of its `deliver` task
   instances, as Airflow recorded them (a run's whole time also holds parsing and scheduling, which move by
   several seconds from run to run on a loaded machine).
2. Storage latency: the delivery core (default mode, emulator answering at once) reading the staged files
   from the local disk, and through a local filesystem whose every open waits `--open-delay-ms`, as a GET on
   object storage does.
3. Catch-up at `--latency-ms`: the hours of staged backlog one worker drains per hour of wall time (the DAG
   runs of 1), and two: two pinned worker processes, each on half of the event-type groups that the DAG's
   `list_pending_groups` plans, against the minimal receiver answering after the same latency, compared with
   one such worker; two workers' rate is the DAG's rate times that ratio. A 36-hour backlog plus the 12 hours
   that arrive meanwhile must go in the 12 hours left, so delivery must run at 4x the workspace's rate: the
   largest workspace drained in time stages rate / 4 events a second, rate x 21,600 a day.

    .venv/bin/python benchmarks/latency.py [--events N] [--hours H] [--latency-ms 50] [--open-delay-ms 20]
                                           [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pendulum

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_e2e import timed_dag_run  # noqa: E402
from receiver import ReceiverProcess  # noqa: E402
from throughput import run_child, run_pair, split_in_two, write_json  # noqa: E402

from airflow_braze_td.currents.sample import stage_sample  # noqa: E402
from airflow_braze_td.demo import DAG_ID, airflow_env, ledger_totals  # noqa: E402
from airflow_braze_td.delivery.ledger import Ledger  # noqa: E402
from airflow_braze_td.emulator import start_emulator_process  # noqa: E402

DAGS = Path(__file__).resolve().parents[1] / "dags"
MODES = ("postback", "import", "ingest")
DEFAULT_MODE = "postback"
TARGET_RATIO = 0.8
BACKLOG_HOURS, HOURS_LEFT = 36, 12
SECONDS_PER_DAY = 86_400


def deliver_seconds(work: Path) -> tuple[float, int]:
    """The summed time of the last run's `deliver` task instances, from Airflow's own records, and their count."""
    with sqlite3.connect(work / "airflow" / "airflow.db") as db:
        (run_id,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                               (DAG_ID,)).fetchone()
        spans = db.execute("SELECT start_date, end_date FROM task_instance WHERE dag_id = ? AND run_id = ? "
                           "AND task_id = 'deliver' AND state = 'success'", (DAG_ID, run_id)).fetchall()
    seconds = sum((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
                  for start, end in spans)
    return seconds, len(spans)


def dag_runs(work: Path, staging: Path, events: int, latency: float) -> dict:
    """Each mode's delivery through the example DAG against an emulator answering after `latency` seconds."""
    log_path = work / "airflow.log"
    results = {}
    for mode in MODES:
        emulator = start_emulator_process(latency=latency)  # fresh: one that remembers import ids skips work
        ledger = work / f"ledger-{mode}-{round(latency * 1000)}"
        try:
            env = airflow_env(work, DAGS, emulator.url)
            total = timed_dag_run(env, {"mode": mode, "staging_url": str(staging), "ledger_url": str(ledger)},
                                  log_path)
        finally:
            emulator.stop()
        read = ledger_totals(Ledger.from_url(str(ledger)))["read"]
        if read != events:
            raise RuntimeError(f"the {mode} DAG run read {read} of {events} staged events; see {log_path}")
        delivery, tasks = deliver_seconds(work)
        results[mode] = {"airflow_seconds": total, "delivery_seconds": delivery, "deliver_tasks": tasks,
                         "events_per_s": events / delivery}
        print(f"  {mode:<8} at {latency * 1000:4.0f} ms: {events / delivery:9,.0f} events/s "
              f"({delivery:.1f} s in {tasks} deliver task(s), {total:.1f} s the whole run)", flush=True)
    return results


def storage_runs(work: Path, staging: Path, open_delay: float) -> dict:
    """The delivery core reading the local disk, then the same files at `open_delay` seconds an open."""
    results = {}
    for label, delay in (("local", 0.0), ("slow_open", open_delay)):
        emulator = start_emulator_process()
        try:
            run = run_child("project", staging=str(staging), mode=DEFAULT_MODE, url=emulator.url,
                            ledger=str(work / f"ledger-storage-{label}"), open_delay=delay)
        finally:
            emulator.stop()
        results[label] = {**run, "events_per_s": run["events"] / run["seconds"]}
        print(f"  reading {label:<9} ({delay * 1000:3.0f} ms an open): {results[label]['events_per_s']:9,.0f} "
              f"events/s", flush=True)
    return results


def scale_runs(work: Path, staging: Path, latency: float) -> dict:
    """Per mode, 2 workers (half the event-type groups each) against 1, all against the minimal receiver."""
    split = split_in_two(str(staging))
    results = {}
    for mode in MODES:
        runs = {}
        for workers in (1, 2):
            receiver = ReceiverProcess(latency=latency)
            try:
                ledger = str(work / f"ledger-scale-{mode}-{workers}")
                params = {"staging": str(staging), "mode": mode, "url": receiver.url, "ledger": ledger}
                runs[workers] = (run_child("project", **params) if workers == 1
                                 else run_pair("project", split[0], **params))
            finally:
                receiver.stop()
        results[mode] = {"one_worker_seconds": runs[1]["seconds"], "two_workers_seconds": runs[2]["seconds"],
                         "ratio": runs[1]["seconds"] / runs[2]["seconds"]}
        print(f"  {mode:<8} 2 workers / 1 at {latency * 1000:.0f} ms: {results[mode]['ratio']:.2f}", flush=True)
    return results


def catch_up(dag_at_latency: dict, scale: dict, events: int, hours: int) -> dict:
    """Hours of backlog drained per wall hour, and the largest workspace whose 36-hour backlog goes in 12."""
    needed = (BACKLOG_HOURS + HOURS_LEFT) / HOURS_LEFT
    table = {}
    for mode in MODES:
        one = dag_at_latency[mode]["events_per_s"]
        two = one * scale[mode]["ratio"]
        per_wall_hour = hours / (events / one / 3600)
        table[mode] = {
            "backlog_hours_per_wall_hour_1_worker": per_wall_hour,
            "backlog_hours_per_wall_hour_2_workers": per_wall_hour * scale[mode]["ratio"],
            "largest_workspace_events_per_day_1_worker": one / needed * SECONDS_PER_DAY,
            "largest_workspace_events_per_day_2_workers": two / needed * SECONDS_PER_DAY,
        }
    return table


def measure(work: Path, events: int, hours: int, latency: float, open_delay: float) -> dict:
    staging = work / "staging"
    staged = stage_sample(str(staging), events=events, hours=hours, seed=7,
                          end=pendulum.now("UTC").start_of("hour"))
    print(f"{staged['events']:,} events in {staged['files']:,} files over {hours} hours", flush=True)
    started = time.perf_counter()
    print("1. TD latency, example DAG with its defaults:")
    at_zero = dag_runs(work, staging, staged["events"], 0.0)
    at_latency = dag_runs(work, staging, staged["events"], latency)
    print("2. storage latency, delivery core:")
    storage = storage_runs(work, staging, open_delay)
    print("3. scale-out at TD latency, delivery core against the minimal receiver:")
    scale = scale_runs(work, staging, latency)
    return {
        "events": staged["events"], "files": staged["files"], "hours": hours,
        "latency_ms": latency * 1000, "open_delay_ms": open_delay * 1000,
        "dag": {"0": at_zero, str(round(latency * 1000)): at_latency},
        "latency_ratio": {mode: at_latency[mode]["events_per_s"] / at_zero[mode]["events_per_s"] for mode in MODES},
        "storage": storage,
        "storage_ratio": storage["slow_open"]["events_per_s"] / storage["local"]["events_per_s"],
        "scale_out": scale,
        "catch_up": catch_up(at_latency, scale, staged["events"], hours),
        "seconds": time.perf_counter() - started,
    }


def report(result: dict) -> None:
    latency = round(result["latency_ms"])
    print(f"\n{'mode':<9} {'0 ms':>12} {f'{latency} ms':>12} {'ratio':>6}   (example DAG, events/s; target "
          f">= {TARGET_RATIO})")
    for mode in MODES:
        zero, slow = result["dag"]["0"][mode], result["dag"][str(latency)][mode]
        print(f"{mode:<9} {zero['events_per_s']:12,.0f} {slow['events_per_s']:12,.0f} "
              f"{result['latency_ratio'][mode]:6.2f}")
    storage = result["storage"]
    print(f"\nreading at {result['open_delay_ms']:.0f} ms an open: {storage['slow_open']['events_per_s']:,.0f} "
          f"events/s against {storage['local']['events_per_s']:,.0f} from the local disk: "
          f"{result['storage_ratio']:.2f} (target >= {TARGET_RATIO})")
    print(f"\ncatch-up at {latency} ms: backlog hours drained per wall hour, and the largest workspace whose "
          f"{BACKLOG_HOURS}-hour backlog drains in {HOURS_LEFT} h")
    print(f"{'mode':<9} {'1 worker':>9} {'2 workers':>10} {'events/day, 1 worker':>22} {'2 workers':>14}")
    for mode, row in result["catch_up"].items():
        print(f"{mode:<9} {row['backlog_hours_per_wall_hour_1_worker']:9.1f} "
              f"{row['backlog_hours_per_wall_hour_2_workers']:10.1f} "
              f"{row['largest_workspace_events_per_day_1_worker']:22,.0f} "
              f"{row['largest_workspace_events_per_day_2_workers']:14,.0f}")
    print(f"\n{result['seconds']:.0f} s in all")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--open-delay-ms", type=float, default=20.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CI smoke test")
    args = parser.parse_args(argv)
    events, hours = (4_000, 1) if args.quick else (args.events, args.hours)
    with tempfile.TemporaryDirectory(prefix="braze-td-latency-") as folder:
        result = measure(Path(folder), events, hours, args.latency_ms / 1000, args.open_delay_ms / 1000)
    report(result)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
