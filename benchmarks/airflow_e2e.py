"""The example DAG delivering a staged backlog in `import` mode with `airflow dags test`, against the floor.

Stages the sample export, starts the emulator as a separate process, and runs the DAG on a throw-away
AIRFLOW_HOME (SQLite): on an empty staging folder (Airflow's fixed cost: parsing, scheduling, the lag check)
and on the backlog, twice each, interleaved, each pair against a fresh emulator. The delivery's time is the
best backlog run less the best empty one; it is compared with the best of two floor runs (fastavro decoding
+ msgpack rows + gzip, one core) on the same files.

    .venv/bin/python benchmarks/airflow_e2e.py [--events N] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pendulum

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import run_child, write_json  # noqa: E402

from airflow_braze_td.currents.sample import stage_sample  # noqa: E402
from airflow_braze_td.demo import airflow_env, ledger_totals, run_dag  # noqa: E402
from airflow_braze_td.delivery.ledger import Ledger  # noqa: E402
from airflow_braze_td.emulator import start_emulator_process  # noqa: E402

DAGS = Path(__file__).resolve().parents[1] / "dags"
# Runs of each kind; the best of each counts (this machine's timings move by +-10 % from run to run).
ATTEMPTS = 2


def timed_dag_run(env: dict[str, str], conf: dict, log_path: Path) -> float:
    started = time.perf_counter()
    code = run_dag(env, conf, log_path=log_path)
    if code != 0:
        raise RuntimeError(f"airflow dags test exited with {code}; see {log_path}")
    return time.perf_counter() - started


def measure(work: Path, events: int, hours: int, attempts: int = ATTEMPTS) -> dict:
    end = pendulum.now("UTC").start_of("hour")
    staging, empty = work / "staging", work / "empty-staging"
    empty.mkdir()
    staged = stage_sample(str(staging), events=events, hours=hours, seed=7, end=end)
    floors = [run_child("floor", staging=str(staging), mode="import")["seconds"] for _ in range(attempts)]
    base = {"mode": "import", "database": "braze", "table": "currents_events"}
    log_path = work / "airflow.log"
    fixed_runs, total_runs = [], []
    for attempt in range(attempts):
        emulator = start_emulator_process()  # a fresh TD each time: one that remembers import ids would skip work
        try:
            env = airflow_env(work, DAGS, emulator.url)
            if attempt == 0:  # migrates the metadata database, outside the timing
                run_dag(env, {**base, "staging_url": str(empty), "ledger_url": str(work / "ledger-warmup")},
                        log_path=log_path)
            fixed_runs.append(timed_dag_run(
                env, {**base, "staging_url": str(empty), "ledger_url": str(work / f"ledger-empty-{attempt}")}, log_path))
            ledger = work / f"ledger-{attempt}"
            total_runs.append(timed_dag_run(env, {**base, "staging_url": str(staging), "ledger_url": str(ledger)},
                                            log_path))
        finally:
            emulator.stop()
        totals = ledger_totals(Ledger.from_url(str(ledger)))
        if totals["read"] != staged["events"]:
            raise RuntimeError(f"the DAG read {totals['read']} of {staged['events']} staged events")
    fixed, total, floor = min(fixed_runs), min(total_runs), min(floors)
    delivery = total - fixed
    return {
        "events": staged["events"], "files": staged["files"], "hours": hours, "attempts": attempts,
        "airflow_seconds": total, "fixed_seconds": fixed, "delivery_seconds": delivery,
        "delivery_eps": staged["events"] / delivery,
        "floor_seconds": floor, "floor_eps": staged["events"] / floor,
        "ratio_to_floor": delivery / floor, "sent": totals["sent"],
        "runs": {"airflow_seconds": total_runs, "fixed_seconds": fixed_runs, "floor_seconds": floors},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one run of each, for a CI smoke test")
    args = parser.parse_args(argv)
    events, hours = (5_000, 1) if args.quick else (args.events, args.hours)
    with tempfile.TemporaryDirectory(prefix="braze-td-airflow-") as folder:
        result = measure(Path(folder), events, hours, attempts=1 if args.quick else ATTEMPTS)
    print(f"{result['events']:,} events in {result['files']:,} files, import mode, airflow dags test")
    print(f"  whole run           {result['airflow_seconds']:8.1f} s")
    print(f"  empty staging       {result['fixed_seconds']:8.1f} s  (Airflow's fixed cost)")
    print(f"  delivery            {result['delivery_seconds']:8.1f} s  ({result['delivery_eps']:,.0f} events/s)")
    print(f"  floor, same files   {result['floor_seconds']:8.1f} s  ({result['floor_eps']:,.0f} events/s, one core)")
    print(f"  delivery / floor    {result['ratio_to_floor']:8.2f}")
    shown = lambda values: "/".join(f"{value:.1f}" for value in values)  # noqa: E731
    runs = result["runs"]
    print(f"  best of {result['attempts']}: whole {shown(runs['airflow_seconds'])} s, empty {shown(runs['fixed_seconds'])} s, "
          f"floor {shown(runs['floor_seconds'])} s")
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
