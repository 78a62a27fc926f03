"""The example DAG delivering a staged backlog in `import` mode with `airflow dags test`, against the floor.

Stages the sample export, starts the emulator as a separate process, and runs the DAG on a throw-away
AIRFLOW_HOME (SQLite): once on an empty staging folder (Airflow's fixed cost: parsing, scheduling, the
lag check) and once on the backlog. The delivery's time is the difference; it is compared with the floor
(fastavro decoding + msgpack rows + gzip, one core) on the same files.

    .venv/bin/python benchmarks/airflow_e2e.py [--events N] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pendulum

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import run_child  # noqa: E402

from airflow_braze_td.currents.sample import stage_sample  # noqa: E402
from airflow_braze_td.demo import airflow_env, ledger_totals, run_dag  # noqa: E402
from airflow_braze_td.delivery.ledger import Ledger  # noqa: E402
from airflow_braze_td.emulator import start_emulator_process  # noqa: E402

DAGS = Path(__file__).resolve().parents[1] / "dags"


def timed_dag_run(env: dict[str, str], conf: dict, log_path: Path) -> float:
    started = time.perf_counter()
    code = run_dag(env, conf, log_path=log_path)
    if code != 0:
        raise RuntimeError(f"airflow dags test exited with {code}; see {log_path}")
    return time.perf_counter() - started


def measure(work: Path, events: int, hours: int) -> dict:
    end = pendulum.now("UTC").start_of("hour")
    staging, empty = work / "staging", work / "empty-staging"
    empty.mkdir()
    staged = stage_sample(str(staging), events=events, hours=hours, seed=7, end=end)
    floor = run_child("floor", staging=str(staging), mode="import")
    emulator = start_emulator_process()
    try:
        env = airflow_env(work, DAGS, emulator.url)
        log_path = work / "airflow.log"
        base = {"mode": "import", "database": "braze", "table": "currents_events"}
        run_dag(env, {**base, "staging_url": str(empty), "ledger_url": str(work / "ledger-warmup")},
                log_path=log_path)  # migrates the metadata database, outside the timing
        fixed = timed_dag_run(env, {**base, "staging_url": str(empty), "ledger_url": str(work / "ledger-empty")},
                              log_path)
        total = timed_dag_run(env, {**base, "staging_url": str(staging), "ledger_url": str(work / "ledger")},
                              log_path)
    finally:
        emulator.stop()
    totals = ledger_totals(Ledger.from_url(str(work / "ledger")))
    if totals["read"] != staged["events"]:
        raise RuntimeError(f"the DAG read {totals['read']} of {staged['events']} staged events")
    delivery = total - fixed
    return {
        "events": staged["events"], "files": staged["files"], "hours": hours,
        "airflow_seconds": total, "fixed_seconds": fixed, "delivery_seconds": delivery,
        "delivery_eps": staged["events"] / delivery,
        "floor_seconds": floor["seconds"], "floor_eps": floor["events"] / floor["seconds"],
        "ratio_to_floor": delivery / floor["seconds"], "sent": totals["sent"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CI smoke test")
    args = parser.parse_args(argv)
    events, hours = (5_000, 1) if args.quick else (args.events, args.hours)
    with tempfile.TemporaryDirectory(prefix="braze-td-airflow-") as folder:
        result = measure(Path(folder), events, hours)
    print(f"{result['events']:,} events in {result['files']:,} files, import mode, airflow dags test")
    print(f"  whole run           {result['airflow_seconds']:8.1f} s")
    print(f"  empty staging       {result['fixed_seconds']:8.1f} s  (Airflow's fixed cost)")
    print(f"  delivery            {result['delivery_seconds']:8.1f} s  ({result['delivery_eps']:,.0f} events/s)")
    print(f"  floor, same files   {result['floor_seconds']:8.1f} s  ({result['floor_eps']:,.0f} events/s, one core)")
    print(f"  delivery / floor    {result['ratio_to_floor']:8.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
