"""The embedded demo (`make demo`): stage sample data, start the TD emulator, run the example DAG with
`airflow dags test` on a throw-away SQLite database, stop the emulator, and print what happened."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

import orjson

from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.filters import DEFAULT_DEDUPE_HOURS
from airflow_braze_td.delivery.lag import lag_report
from airflow_braze_td.delivery.ledger import Ledger
from airflow_braze_td.emulator import start_emulator_process

DAG_ID = "braze_currents_to_treasure_data"
DEMO_KEY = "1/" + "0123456789abcdef" * 2 + "01234567"


def airflow_env(workdir: Path, dags_folder: Path, td_url: str, api_key: str = DEMO_KEY) -> dict[str, str]:
    """The environment of an offline Airflow run against the emulator (also used by the end-to-end tests)."""
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(workdir / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder.resolve()),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        BRAZE_TD_DEMO_DIR=str(workdir.resolve()),
        AIRFLOW_CONN_TREASURE_DATA_DEFAULT=json.dumps(
            {"conn_type": "treasure_data", "host": td_url, "password": api_key, "extra": {"database": "braze"}}
        ),
    )
    return env


def prepare_metadata_database(env: dict[str, str], log: IO[bytes]) -> None:
    """`airflow db migrate`, then `airflow dags reserialize`: the DAGs and their Asset aliases in the database,
    as a deployment's DAG processor puts them there. Airflow 2.11's `dags test` does not register an alias, and
    then fails the deliver task when it records the alias's Asset events."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([airflow, *command], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


def run_dag(env: dict[str, str], conf: dict, *, log_path: Path) -> int:
    """A prepared metadata database (once), then `airflow dags test` with `conf`; output goes to `log_path`."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log_path.open("ab") as log:
        if not (Path(env["AIRFLOW_HOME"]) / "airflow.db").exists():
            prepare_metadata_database(env, log)
        return subprocess.run(
            [airflow, "dags", "test", DAG_ID, "--conf", json.dumps(conf)], env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode


def ledger_totals(ledger: Ledger) -> Counter:
    """Counts summed over every file the ledger has finished."""
    totals: Counter = Counter()
    for path in ledger.fs.find(f"{ledger.root}/files"):
        with ledger.fs.open(path, "rb") as stream:
            progress = orjson.loads(stream.read())
        totals.update(progress["counts"])
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".demo"))
    parser.add_argument("--dags-folder", type=Path, default=Path("dags"))
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--mode", default="postback", choices=("postback", "import", "ingest"))
    args = parser.parse_args(argv)

    workdir: Path = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    print(f"1/4 staging {args.events:,} sample events over {args.hours} hours in {workdir / 'staging'}")
    staged = stage_sample(str(workdir / "staging"), events=args.events, hours=args.hours, seed=7)
    print(f"    {staged['files']} files, {staged['events']:,} events ({staged['duplicates']} duplicate copies, "
          f"{staged['without_external_id']:,} without external_user_id)")

    emulator = start_emulator_process(store=str(workdir / "td.sqlite"))
    try:
        print(f"2/4 TD emulator at {emulator.url}")
        env = airflow_env(workdir, args.dags_folder, emulator.url)
        log_path = workdir / "airflow.log"
        print(f"3/4 airflow dags test {DAG_ID} (mode {args.mode}); log: {log_path}")
        started = time.monotonic()
        code = run_dag(env, {"mode": args.mode}, log_path=log_path)
        print(f"    finished in {time.monotonic() - started:.1f} s with exit code {code}")
        rows_in_td = stored_rows(emulator.url)
    finally:
        emulator.stop()

    ledger = Ledger.from_url(str(workdir / "ledger"))
    totals = ledger_totals(ledger)
    report = lag_report(StagingArea.from_url(str(workdir / "staging")), ledger)
    dedupe = ledger.dedupe_report(DEFAULT_DEDUPE_HOURS)
    print("4/4 summary")
    rows = [
        ("staged events", staged["events"]),
        ("events read", totals["read"]),
        ("filtered: no external_user_id", totals["filtered_no_external_user_id"]),
        ("filtered: event type", totals["filtered_event_type"]),
        ("filtered: event-time window", totals["filtered_window"]),
        ("duplicates dropped", totals["duplicates"]),
        ("delivered", totals["sent"]),
        ("distinct ids delivered", dedupe["distinct_ids"]),
        ("quarantined", totals["quarantined"]),
        ("rows in TD", len(rows_in_td)),
        ("events in TD", sum(len(row) for row in rows_in_td)),
        ("distinct ids in TD", len({event_id for row in rows_in_td for event_id in row})),
        ("files delivered / staged", f"{report.delivered_files} / {report.staged_files}"),
        ("delivery lag (hours)", report.lag_hours),
    ]
    for label, value in rows:
        print(f"    {label:<32} {value:>12,}" if isinstance(value, int) else f"    {label:<32} {value!s:>12}")
    return code


def stored_rows(url: str, database: str = "braze") -> list[list[str]]:
    """Every row the emulator stores in `database`, as the event ids it holds."""
    import requests

    return requests.get(f"{url}/_emulator/event_ids/{database}", timeout=600).json()


if __name__ == "__main__":
    raise SystemExit(main())
