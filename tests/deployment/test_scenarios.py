"""Scenarios on a real deployment (see harness.py): the example DAG under Airflow's scheduler and
executor, staging and ledger on S3, Postgres as the metadata database. Each asserts on the TD emulator's
rows and on Airflow's own records through its REST API."""

from __future__ import annotations

import os
import shutil
import signal
from collections import Counter
from pathlib import Path

import pendulum
import pytest
import requests
import s3fs

from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.lag import lag_report
from airflow_braze_td.delivery.ledger import Ledger
from airflow_braze_td.treasure_data.sinks import PostbackSink
from airflow_braze_td.demo import DAG_ID
from tests.conftest import open_record, write_avro
from tests.delivery.conftest import eligible_ids
from tests.deployment.harness import AWS_CONN_ID, LEDGER_BUCKET, STAGING_BUCKET, Deployment, wait_for

SAMPLE_TYPES = ["users.messages.email.Send", "users.messages.email.Open", "users.behaviors.CustomEvent",
                "users.messages.pushnotification.Send", "users.behaviors.app.SessionStart"]
# Two of the sample's event types are re-keyed into Braze's two older key layouts.
OLDER_LAYOUT_TYPE, OLDEST_LAYOUT_TYPE = "users.behaviors.CustomEvent", "users.messages.pushnotification.Send"
POSTBACK_BATCH = 100
# docs/guarantees.md: a kill resends at most the batches in flight.
POSTBACK_KILL_BOUND = PostbackSink.requests_in_flight * POSTBACK_BATCH
REFUSED_KEY = "1/" + "f" * 40


def s3(deployment: Deployment) -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(**deployment.s3_storage_options(), skip_instance_cache=True)


def older_layouts(key: str) -> str:
    """`key` (current layout) as Braze's older `<schema-id>/<zone>` or oldest cluster-less layout writes it."""
    if f"event_type={OLDER_LAYOUT_TYPE}/" in key:
        return key.replace("/version=10/us-01/", "/321/us-01/")
    if f"event_type={OLDEST_LAYOUT_TYPE}/" in key:
        return key.replace("/version=10/us-01/", "/12/us-01/").replace("dataexport.prod-01.S3", "dataexport.S3")
    return key


def upload(deployment: Deployment, local: Path, prefix: str) -> int:
    """Every file under `local` to s3://STAGING_BUCKET/prefix, keys in the three layouts."""
    fs = s3(deployment)
    sources = sorted(path for path in local.rglob("*") if path.is_file())
    fs.put([str(path) for path in sources],
           [f"{STAGING_BUCKET}/{prefix}/{older_layouts(str(path.relative_to(local)))}" for path in sources])
    return len(sources)


def conf(prefix: str, mode: str, database: str, **more) -> dict:
    return {
        "staging_url": f"s3://{STAGING_BUCKET}/{prefix}", "ledger_url": f"s3://{LEDGER_BUCKET}/{prefix}",
        "staging_conn_id": AWS_CONN_ID, "ledger_conn_id": AWS_CONN_ID, "mode": mode, "database": database,
        "table": "currents_events" if mode == "postback" else "events_{event_type}", **more,
    }


def ids_in_several_files(local: Path) -> set[str]:
    """Ids Braze's at-least-once delivery staged in more than one file."""
    area = StagingArea.from_url(str(local))
    files_of: Counter = Counter()
    for staged in area.list().files:
        files_of.update({event["id"] for event in area.iter_events(staged)})
    return {event_id for event_id, count in files_of.items() if count > 1}


def td_ids(deployment: Deployment, database: str) -> tuple[Counter, int]:
    """Event ids stored in the emulator's `database`, with multiplicity, and its number of rows."""
    rows = requests.get(f"{deployment.emulator.url}/_emulator/event_ids/{database}", timeout=120).json()
    return Counter(event_id for row in rows for event_id in row), len(rows)


def push_faults(deployment: Deployment, faults: list[dict]) -> None:
    requests.post(f"{deployment.emulator.url}/_emulator/faults", json=faults, timeout=30).raise_for_status()


def td_requests(deployment: Deployment, prefix: str) -> int:
    entries = requests.get(f"{deployment.emulator.url}/_emulator/requests", timeout=30).json()
    return sum(1 for entry in entries if entry["path"].startswith(prefix))


def states(instances: list[dict], task_id: str) -> list[str]:
    return [ti["state"] for ti in instances if ti["task_id"] == task_id]


def wall_seconds(run: dict) -> float:
    return round((pendulum.parse(run["end_date"]) - pendulum.parse(run["start_date"])).total_seconds(), 1)


# -- the scheduler's own run, and Clear --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def scheduled_run(deployment: Deployment, tmp_path_factory, figures) -> dict:
    """Staged data on S3 in the three layouts, late files and duplicates; the DAG unpaused, and the run the
    scheduler creates by itself for the last hour, finished. (Nothing is staged in the current hour: its
    files are the next run's, so this run's lag check would wait for them, and hand over after 50 minutes.)"""
    local = tmp_path_factory.mktemp("scheduled")
    hour = pendulum.now("UTC").start_of("hour")
    summary = stage_sample(str(local / "due"), events=4_000, hours=3, seed=3, end=hour, event_types=SAMPLE_TYPES)
    stage_sample(str(local / "late"), events=300, hours=1, seed=4, end=hour.subtract(hours=20),
                 event_types=SAMPLE_TYPES)
    files = sum(upload(deployment, local / part, "scheduled") for part in ("due", "late"))
    truth = eligible_ids(local / "due") + eligible_ids(local / "late")
    deployment.set_paused(False)  # and it stays unpaused: the scheduler runs no task of a paused DAG's runs
    run_id = wait_for("the scheduler's run", lambda: next(
        (run["dag_run_id"] for run in deployment.api("GET", deployment.dag_path("/dagRuns"))["dag_runs"]
         if run["run_type"] == "scheduled"), None), timeout=120)
    run = deployment.wait_finished(run_id)
    figures["scheduled"] = {"files": files, "events_staged": summary["events"] + 600,
                            "eligible_events": len(truth), "wall_seconds": wall_seconds(run)}
    return {"run": run, "truth": truth}


def test_the_schedulers_run_delivers_every_eligible_event_once(deployment, scheduled_run, figures):
    run = scheduled_run["run"]
    assert run["state"] == "success" and run["run_type"] == "scheduled"
    instances = deployment.task_instances(run["dag_run_id"])
    assert states(instances, "list_pending") == ["success"]
    assert states(instances, "deliver") and set(states(instances, "deliver")) == {"success"}
    assert states(instances, "check_delivery_lag") == ["success"]
    delivered, rows = td_ids(deployment, "braze")
    assert set(delivered) == set(scheduled_run["truth"])
    assert max(delivered.values()) == 1
    figures["scheduled"].update(rows=rows, events_in_td=sum(delivered.values()),
                                duplicates=sum(delivered.values()) - len(delivered))


def test_the_ui_grid_shows_the_scheduled_run(deployment, scheduled_run, tmp_path):
    """The README's screenshot: BRAZE_TD_SCREENSHOT=docs/airflow-grid.png make deployment-test."""
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed")
    out = Path(os.environ.get("BRAZE_TD_SCREENSHOT") or tmp_path / "grid.png")
    deployment.screenshot(f"/dags/{DAG_ID}/runs/{scheduled_run['run']['dag_run_id']}", out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000, "a blank page: the UI did not render"


def test_the_lag_page_links_and_asset_events_of_the_scheduled_run(deployment, scheduled_run):
    """What the UI shows of the run: the lag page's JSON for the deployment's staging and ledger pair (the
    example DAG's BRAZE_TD_* defaults), the operator's TD table link, and an Asset event per TD table."""
    run_id = scheduled_run["run"]["dag_run_id"]
    sources = deployment.api("GET", "/braze-td/status.json")["sources"]
    (status,) = [source["status"] for source in sources if source["staging_url"] == f"s3://{STAGING_BUCKET}/scheduled"]
    assert status["pending_files"] == 0 and status["last_errors"] == []
    assert sum(point["delivered_events"] for point in status["history"]) == len(scheduled_run["truth"])
    links = deployment.api("GET", deployment.dag_path(f"/dagRuns/{run_id}/taskInstances/deliver/links"), map_index=0)
    assert links["extra_links"]["Treasure Data table"].startswith("https://")
    events = deployment.api("GET", "/api/v2/assets/events", source_dag_id=DAG_ID, source_run_id=run_id)
    uris = {event["uri"] for event in events["asset_events"]}
    assert uris and all(uri.startswith("treasuredata://") and "/braze/" in uri for uri in uris)


def test_clear_of_a_finished_run_adds_no_row(deployment, scheduled_run, figures):
    run_id = scheduled_run["run"]["dag_run_id"]
    before = td_ids(deployment, "braze")
    deployment.clear(run_id)
    wait_for("the cleared run to start again", lambda: deployment.run(run_id)["state"] != "success", timeout=60,
             every=0.5)
    run = deployment.wait_finished(run_id)
    assert run["state"] == "success"
    instances = deployment.task_instances(run_id)
    tries = {ti["task_id"]: ti["try_number"] for ti in instances if ti["task_id"] != "deliver"}
    # list_pending ran again and found nothing pending, so the rerun maps no deliver task at all.
    assert tries == {"list_pending": 2, "check_delivery_lag": 2}
    assert states(instances, "check_delivery_lag") == ["success"]
    assert td_ids(deployment, "braze") == before
    figures["clear"] = {"rows_before": before[1], "rows_after": before[1], "wall_seconds": wall_seconds(run),
                        "deliver_states_after": sorted(states(instances, "deliver"))}


# -- a deliver task killed mid-delivery -------------------------------------------------------------------------

def stage_big_files(local: Path, files: int, events_per_file: int) -> Counter:
    hour = pendulum.now("UTC").start_of("hour").subtract(hours=2)
    for number in range(files):
        key = staged_key(event_type="users.messages.email.Open", queue_hour=hour, partition=0, offset=number * 10**6)
        write_avro(local / key, [open_record(number * 10**6 + n) for n in range(events_per_file)])
    return eligible_ids(local)


@pytest.mark.parametrize(("mode", "events_per_file", "delay", "path", "kill_after", "slow_requests"), [
    ("import", 50_000, 1.0, "/v3/table/import", 2, 10),  # 10,000 rows a request, 2 in flight
    ("postback", 3_000, 0.05, "/postback", 10, 60),
])
def test_a_sigkilled_delivery_is_finished_by_airflows_retry(deployment, scheduled_run, tmp_path, figures, mode,
                                                            events_per_file, delay, path, kill_after, slow_requests):
    truth = stage_big_files(tmp_path, 2, events_per_file)
    prefix = f"kill-{mode}"
    upload(deployment, tmp_path, prefix)
    push_faults(deployment, [{"delay": delay, "kind": "slow", "status": None, "path_prefix": path}] * slow_requests)
    database = f"kill_{mode}"
    run_id = deployment.trigger(conf(prefix, mode, database))
    before = td_requests(deployment, path)

    def delivering_task() -> dict | None:
        deliver = [ti for ti in deployment.task_instances(run_id) if ti["task_id"] == "deliver"]
        running = [ti for ti in deliver if ti["state"] == "running" and ti["pid"]]
        return running[0] if running and td_requests(deployment, path) - before >= kill_after else None

    victim = wait_for("a deliver task mid-delivery", delivering_task, timeout=180, every=0.2)
    os.kill(victim["pid"], signal.SIGKILL)
    run = deployment.wait_finished(run_id)
    deliver = [ti for ti in deployment.task_instances(run_id) if ti["task_id"] == "deliver"]
    assert run["state"] == "success"
    assert deliver[0]["state"] == "success" and deliver[0]["try_number"] >= 2
    delivered, rows = td_ids(deployment, database)
    assert set(delivered) == set(truth), "events lost"
    duplicated = sum(delivered.values()) - len(delivered)
    if mode == "import":
        assert duplicated == 0
    else:
        assert duplicated <= POSTBACK_KILL_BOUND
    figures[f"sigkill_{mode}"] = {
        "events": len(truth), "lost": len(set(truth) - set(delivered)), "duplicated": duplicated,
        "duplicate_bound": POSTBACK_KILL_BOUND if mode == "postback" else 0, "tries": deliver[0]["try_number"],
        "rows": rows, "wall_seconds": wall_seconds(run),
    }


# -- two runs of the same hours at once -------------------------------------------------------------------------

def test_two_overlapping_runs_deliver_each_file_once(deployment, scheduled_run, tmp_path, figures):
    hour = pendulum.now("UTC").start_of("hour")
    stage_sample(str(tmp_path), events=6_000, hours=2, seed=8, end=hour, event_types=SAMPLE_TYPES)
    truth = eligible_ids(tmp_path)
    files = upload(deployment, tmp_path, "overlap")
    settings = conf("overlap", "postback", "overlap", group_mib=0.05)
    runs = [deployment.trigger(settings), deployment.trigger(settings)]
    finished = [deployment.wait_finished(run_id) for run_id in runs]
    assert [run["state"] for run in finished] == ["success", "success"]
    delivered, rows = td_ids(deployment, "overlap")
    assert set(delivered) == set(truth)
    # Each file once: an event lands twice only if Braze staged it in two files and the two runs read those
    # files at the same moment (the dedupe is per task; docs/guarantees.md).
    copies = ids_in_several_files(tmp_path)
    twice = {event_id for event_id, count in delivered.items() if count > 1}
    assert twice <= copies and max(delivered.values()) <= 2
    hosts = {ti["hostname"] for run_id in runs for ti in deployment.task_instances(run_id)
             if ti["task_id"] == "deliver"}
    if deployment.executor == "CeleryExecutor":
        assert hosts == {"worker-1", "worker-2"}
    figures["overlap"] = {"files": files, "eligible_events": len(truth), "rows": rows,
                          "braze_copies_staged": len(copies), "braze_copies_landed_twice": len(twice),
                          "deliver_hosts": sorted(hosts)}


# -- the deferrable lag sensor in the triggerer ----------------------------------------------------------------

def test_the_deferred_lag_sensor_fails_at_the_fail_line_naming_the_cause(deployment, scheduled_run, tmp_path,
                                                                         figures):
    old_hour = pendulum.now("UTC").start_of("hour").subtract(hours=39)
    stage_sample(str(tmp_path), events=300, hours=1, seed=9, end=old_hour, event_types=SAMPLE_TYPES)
    upload(deployment, tmp_path, "lag")
    (tmp_path / "empty-ledger").mkdir()
    lag = lag_report(StagingArea.from_url(str(tmp_path)), Ledger.from_url(str(tmp_path / "empty-ledger"))).lag_hours
    assert 40 <= lag < 41
    # The fail line a little past the lag now: the first check waits (the sensor defers), the trigger fails it.
    fail_line = lag + 50 / 3600
    deployment.create_connections(td_key=REFUSED_KEY)
    try:
        run_id = deployment.trigger(conf("lag", "import", "lag", loss_window_hours=48,
                                         fail_margin_hours=48 - fail_line))
        seen: set[str] = set()

        def sensor_finished() -> bool:
            sensor = [ti for ti in deployment.task_instances(run_id) if ti["task_id"] == "check_delivery_lag"]
            seen.update(ti["state"] for ti in sensor if ti["state"])
            return bool(sensor) and sensor[0]["state"] in ("failed", "success", "skipped")

        wait_for("the lag sensor's verdict", sensor_finished, timeout=300, every=1.0)
        run = deployment.wait_finished(run_id)
    finally:
        deployment.create_connections()
    instances = deployment.task_instances(run_id)
    assert run["state"] == "failed"
    assert states(instances, "deliver") == ["failed"]
    sensor = next(ti for ti in instances if ti["task_id"] == "check_delivery_lag")
    assert "deferred" in seen, f"the sensor never deferred: {seen}"
    assert sensor["state"] == "failed" and sensor["try_number"] == 1
    entry = deployment.api("GET", deployment.dag_path(
        f"/dagRuns/{run_id}/taskInstances/check_delivery_lag/xcomEntries/lag_hours"))
    assert float(entry["value"]) >= fail_line
    log = deployment.api("GET", deployment.dag_path(f"/dagRuns/{run_id}/taskInstances/check_delivery_lag/logs/1"))
    text = str(log)
    assert "401" in text or "refused" in text.lower(), text[-3000:]
    assert REFUSED_KEY not in text
    figures["lag_sensor"] = {"lag_hours": round(float(entry["value"]), 3), "fail_line_hours": round(fail_line, 3),
                             "states_seen": sorted(seen), "wall_seconds": wall_seconds(run)}


# -- scale-out over the two Celery workers ---------------------------------------------------------------------

SCALE_EVENTS = int(os.environ.get("BRAZE_TD_DEPLOYMENT_SCALE_EVENTS", "200000"))


@pytest.fixture(scope="session")
def scale_tree(tmp_path_factory) -> tuple[Path, Counter, int]:
    local = tmp_path_factory.mktemp("scale")
    hour = pendulum.now("UTC").start_of("hour")
    summary = stage_sample(str(local), events=SCALE_EVENTS, hours=2, seed=10, end=hour, event_types=SAMPLE_TYPES)
    return local, eligible_ids(local), summary["events"]


@pytest.mark.parametrize("workers", [2, 1])
def test_a_mapped_delivery_spreads_over_both_celery_workers(deployment, scheduled_run, scale_tree, figures,
                                                            workers):
    if deployment.executor != "CeleryExecutor":
        pytest.skip("two workers only with CeleryExecutor")
    local, truth, events = scale_tree
    prefix = f"scale-{workers}"
    upload(deployment, local, prefix)
    if workers == 1:
        deployment.stop_service("worker-2")
    run_id = deployment.trigger(conf(prefix, "postback", prefix.replace("-", "_"), group_mib=4))
    run = deployment.wait_finished(run_id, timeout=400)
    assert run["state"] == "success"
    deliver = [ti for ti in deployment.task_instances(run_id) if ti["task_id"] == "deliver"]
    hosts = {ti["hostname"] for ti in deliver}
    assert hosts == ({"worker-1", "worker-2"} if workers == 2 else {"worker-1"})
    delivered, rows = td_ids(deployment, prefix.replace("-", "_"))
    assert set(delivered) == set(truth) and max(delivered.values()) == 1
    figures[f"scale_{workers}_workers"] = {
        "events_staged": events, "eligible_events": len(truth), "mapped_tasks": len(deliver), "rows": rows,
        "deliver_hosts": sorted(hosts), "wall_seconds": wall_seconds(run),
        "deliver_seconds": round(max(pendulum.parse(ti["end_date"]) for ti in deliver).diff(
            min(pendulum.parse(ti["start_date"]) for ti in deliver)).total_seconds(), 1),
    }
