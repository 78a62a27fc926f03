"""A real `airflow dags test` of the example DAG: each TD table written becomes an Asset event that queues the
downstream DAG scheduled on it, and OpenLineage (file transport) gets the staging prefix in and the table out."""

from __future__ import annotations

import sqlite3
import subprocess

import orjson
import pendulum
import pytest

from airflow_braze_td.compat import SERVES_FASTAPI_PLUGINS
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.demo import airflow_env
from tests.e2e.conftest import AIRFLOW, ROOT, dag_test

TABLE_URI = "treasuredata://us01/braze/currents_events"  # the example DAG's default table, as its downstream DAG
DOWNSTREAM_DAG_ID = "braze_td_table_updated"


def _asset_rows(database) -> tuple[list[str], list[str]]:
    """URIs of the Asset events, and the DAGs queued by them (Airflow 2.11 calls Assets datasets)."""
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        kind = "asset" if "asset_event" in tables else "dataset"
        events = [row[0] for row in db.execute(
            f"select {kind}.uri from {kind}_event join {kind} on {kind}.id = {kind}_event.{kind}_id")]
        queued = [row[0] for row in db.execute(
            f"select target_dag_id from {kind}_dag_run_queue join {kind} on {kind}.id = {kind}_dag_run_queue.{kind}_id "
            f"where {kind}.uri = ?", (TABLE_URI,))]
    return events, queued


def _links(database) -> dict[str, object]:
    """The extra links Airflow 3's worker stored for the UI (`_link_<class>` XComs), by task."""
    with sqlite3.connect(database) as db:
        rows = db.execute("select task_id, key, value from xcom where key like '_link_%'").fetchall()
    return {f"{task_id}/{key}": orjson.loads(value) for task_id, key, value in rows}


def test_a_delivery_emits_the_tables_asset_and_its_lineage(airflow_home, emulator, tmp_path, monkeypatch):
    pytest.importorskip("airflow.providers.openlineage", reason="the openlineage extra is not installed")
    lineage_file = tmp_path / "openlineage.jsonl"
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT",
                       orjson.dumps({"type": "file", "log_file_path": str(lineage_file), "append": True}).decode())
    stage_sample(str(tmp_path / "staging"), events=300, hours=1, seed=8, end=pendulum.datetime(2026, 11, 30, 10, tz="UTC"))
    # The downstream DAG is in the database (the session's `airflow_home` holds the DAGs), and unpaused: a paused
    # DAG is not queued by an Asset event.
    subprocess.run([AIRFLOW, "dags", "unpause", DOWNSTREAM_DAG_ID],
                   env=airflow_env(airflow_home, ROOT / "dags", emulator.url), check=True, capture_output=True, timeout=300)
    conf = {"staging_url": str(tmp_path / "staging"), "ledger_url": str(tmp_path / "ledger"), "database": "braze",
            "table": "currents_events"}
    run = dag_test(airflow_home, emulator.url, conf, logical_date="2026-11-30T20:00:00+00:00")
    assert run.returncode == 0, run.stdout[-4000:]

    events, queued = _asset_rows(airflow_home / "airflow" / "airflow.db")
    assert TABLE_URI in events
    assert queued == [DOWNSTREAM_DAG_ID]
    lineage = [orjson.loads(line) for line in lineage_file.read_text().splitlines()]
    complete = [event for event in lineage
                if event["eventType"] == "COMPLETE" and event["job"]["name"].endswith(".deliver")]
    assert complete, [event["job"]["name"] for event in lineage]
    assert {(data["namespace"], data["name"]) for data in complete[0]["outputs"]} == {
        ("treasuredata://us01", "braze.currents_events")}
    assert {(data["namespace"], data["name"]) for data in complete[0]["inputs"]} == {
        ("file", str(tmp_path / "staging"))}
    if SERVES_FASTAPI_PLUGINS:  # Airflow 2.11's webserver computes links when shown, and has no lag page
        links = _links(airflow_home / "airflow" / "airflow.db")
        assert links["deliver/_link_TreasureDataTableLink"] == (
            "https://console.treasuredata.com/databases/braze/tables/currents_events")
        assert links["check_delivery_lag/_link_DeliveryLagPageLink"] == "/plugin/braze-td"
