"""Real Airflow runs (`airflow dags test`) on a throw-away SQLite database, against the real emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_braze_td.demo import DAG_ID, airflow_env, prepare_metadata_database

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
LOGICAL_DATE = "2026-11-30T12:00:00+00:00"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """One metadata database for the session, migrated and holding the DAGs (about 10 s)."""
    workdir = tmp_path_factory.mktemp("airflow")
    with (workdir / "prepare.log").open("wb") as log:
        prepare_metadata_database(airflow_env(workdir, ROOT / "dags", "http://127.0.0.1:9"), log)
    return workdir


def dag_test(workdir: Path, emu_url: str, conf: dict, *, logical_date: str = LOGICAL_DATE,
             background: bool = False, dag_id: str = DAG_ID,
             dags_folder: Path = ROOT / "dags") -> subprocess.CompletedProcess | subprocess.Popen:
    """`airflow dags test` of the example DAG (or `dag_id` in `dags_folder`); the same logical date means the
    same run, as a UI Clear does."""
    env = airflow_env(workdir, dags_folder, emu_url)
    command = [AIRFLOW, "dags", "test", dag_id, logical_date, "--conf", json.dumps(conf)]
    if background:
        log = (workdir / "background.log").open("wb")
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 9)
    process.wait(timeout=30)
