"""The lag sensor failing a real DAG run before Braze's loss window closes, and keys that never leak."""

from __future__ import annotations

import sqlite3

import pendulum

from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.emulator import Emulator
from tests.delivery.conftest import delivered_ids, eligible_ids
from tests.e2e.conftest import dag_test

WRITE_KEY = "42/" + "5e" * 20


def _task_states(workdir, run_logical_date: str) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(workdir / "airflow" / "airflow.db") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(dag_run)")}
        date_column = "logical_date" if "logical_date" in columns else "execution_date"  # Airflow 2's name
        rows = db.execute(
            "SELECT ti.task_id, ti.state, ti.try_number FROM task_instance ti JOIN dag_run dr ON ti.run_id = dr.run_id "
            f"AND ti.dag_id = dr.dag_id WHERE dr.{date_column} LIKE ?",
            (run_logical_date[:19].replace("T", " ") + "%",),
        ).fetchall()
    return {task: (state, tries) for task, state, tries in rows}


def test_a_401_with_data_past_the_fail_line_fails_the_run_on_the_first_try(airflow_home, tmp_path):
    old_end = pendulum.now("UTC").start_of("hour").subtract(hours=13)
    stage_sample(str(tmp_path / "staging"), events=300, hours=1, seed=9, end=old_end)
    conf = {"staging_url": str(tmp_path / "staging"), "ledger_url": str(tmp_path / "ledger"), "mode": "import",
            "database": "braze", "table": "events", "loss_window_hours": 14, "fail_margin_hours": 2}
    logical_date = pendulum.now("UTC").subtract(hours=3).replace(microsecond=0).isoformat()
    with Emulator(api_keys=("7/" + "cd" * 20,)) as emu:
        run = dag_test(airflow_home, emu.url, conf, logical_date=logical_date)
        assert emu.requests() and all(entry["status"] == 401 for entry in emu.requests())
    output = run.stdout + run.stderr
    states = _task_states(airflow_home, logical_date)
    assert states["check_delivery_lag"] == ("failed", 1), states
    assert states["deliver"][0] == "failed"
    assert "state=failed" in output
    assert "at or past the fail line of 12.0 h" in output
    assert "Last delivery error" in output and "401" in output
    assert "hours are left" in output or "h are left" in output


def test_fresh_data_succeeds_and_postback_key_never_leaks(airflow_home, tmp_path):
    fresh_end = pendulum.now("UTC").start_of("hour")
    stage_sample(str(tmp_path / "staging"), events=300, hours=1, seed=10, end=fresh_end)
    logical_date = pendulum.now("UTC").replace(microsecond=0).isoformat()
    with Emulator() as emu:
        conf = {"staging_url": str(tmp_path / "staging"), "ledger_url": str(tmp_path / "ledger"), "mode": "postback",
                "database": "braze", "table": "currents",
                "postback_url": f"{emu.url}/postback/v3/event/braze/currents?td_write_key={WRITE_KEY}"}
        run = dag_test(airflow_home, emu.url, conf, logical_date=logical_date)
        assert run.returncode == 0, run.stdout[-4000:]
        assert delivered_ids(emu) == eligible_ids(tmp_path / "staging")
        assert all(WRITE_KEY not in entry["path"] for entry in emu.requests())
    states = _task_states(airflow_home, logical_date)
    assert states["check_delivery_lag"][0] == "success"
    captured = (run.stdout + run.stderr).encode()
    assert WRITE_KEY.encode() not in captured
    with sqlite3.connect(airflow_home / "airflow" / "airflow.db") as db:
        rendered = db.execute("SELECT rendered_fields FROM rendered_task_instance_fields").fetchall()
        xcoms = db.execute("SELECT value FROM xcom").fetchall()
    assert any("td_write_key=***" in str(row[0]) for row in rendered), rendered
    for row in [*rendered, *xcoms]:
        assert WRITE_KEY not in str(row[0])
    for path in (airflow_home / "airflow" / "logs").rglob("*"):
        if path.is_file():
            assert WRITE_KEY.encode() not in path.read_bytes(), path
