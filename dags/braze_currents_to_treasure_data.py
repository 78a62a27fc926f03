"""Hourly delivery of Braze Currents staged exports to Treasure Data, ending with the delivery-lag check.

list_pending_groups -> deliver (mapped over event-type groups) -> check_delivery_lag (runs even when
delivery failed, so a broken TD key or URL turns into a loud failure before Braze's loss window closes).
A check still waiting after 50 minutes is skipped: the next hourly run's check takes over the watch,
and every check fails the run as soon as the lag reaches the fail line.

The params' defaults run on the embedded demo (`make demo`): a local staging folder, a local ledger, and
the TD emulator behind the `treasure_data_default` connection. Override them per run with
`airflow dags test braze_currents_to_treasure_data --conf '{"staging_url": "s3://...", ...}'`; the scheduler's
own runs take the defaults, which a deployment sets in the environment of its Airflow processes:
BRAZE_TD_STAGING_URL, BRAZE_TD_LEDGER_URL, BRAZE_TD_STAGING_CONN_ID, BRAZE_TD_LEDGER_CONN_ID (see
docs/deploying.md). BRAZE_TD_RETRY_DELAY_SECONDS and BRAZE_TD_LAG_POKE_SECONDS shorten the waits for tests.

Each TD table a delivery writes becomes an Asset event (`treasuredata://<region>/<database>/<table>`);
`braze_td_table_updated` below is a downstream DAG scheduled on the demo table's Asset.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum

from airflow.providers.common.compat.sdk import DAG, Asset, AssetAlias, Param, task
from airflow_braze_td.operators.currents_to_treasure_data import (
    BrazeCurrentsToTreasureDataOperator,
    list_pending_groups,
)
from airflow_braze_td.operators.lineage import TABLES_ALIAS, table_asset_uri
from airflow_braze_td.sensors.delivery_lag import CurrentsDeliveryLagSensor

DEMO_DIR = Path(os.environ.get("BRAZE_TD_DEMO_DIR", Path(__file__).resolve().parents[1] / ".demo"))
RETRY_DELAY = pendulum.duration(seconds=int(os.environ.get("BRAZE_TD_RETRY_DELAY_SECONDS", "120")))
LAG_POKE_SECONDS = int(os.environ.get("BRAZE_TD_LAG_POKE_SECONDS", "60"))

with DAG(
    dag_id="braze_currents_to_treasure_data",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": RETRY_DELAY},
    params={
        "staging_url": Param(os.environ.get("BRAZE_TD_STAGING_URL", str(DEMO_DIR / "staging")), type="string"),
        "ledger_url": Param(os.environ.get("BRAZE_TD_LEDGER_URL", str(DEMO_DIR / "ledger")), type="string"),
        "staging_conn_id": Param(
            os.environ.get("BRAZE_TD_STAGING_CONN_ID", ""), type="string",
            description="staging_url's storage connection (e.g. an aws connection); empty: none",
        ),
        "ledger_conn_id": Param(
            os.environ.get("BRAZE_TD_LEDGER_CONN_ID", ""), type="string",
            description="ledger_url's storage connection; empty: none",
        ),
        "mode": Param("postback", enum=["postback", "import", "ingest"]),
        "database": Param("braze", type="string"),
        "table": Param("currents_events", type="string"),
        "postback_url": Param("", type="string", description="full TD console URL; empty builds it"),
        "event_types": Param([], type="array", description="names or glob patterns; empty means all"),
        "require_external_user_id": Param(True, type="boolean"),
        "loss_window_hours": Param(48, type="number"),
        "fail_margin_hours": Param(12, type="number"),
        "group_mib": Param(256, type="number", description="staged MiB per mapped deliver task"),
    },
    tags=["braze", "treasure-data"],
) as dag:

    @task
    def list_pending(params: dict | None = None, data_interval_end=None) -> list[list[str]]:
        """Event-type groups with files to deliver: the units the delivery fans out over."""
        return list_pending_groups(
            params["staging_url"],
            params["ledger_url"],
            event_types=params["event_types"],
            until=data_interval_end,
            staging_conn_id=params["staging_conn_id"] or None,
            ledger_conn_id=params["ledger_conn_id"] or None,
            target_group_bytes=int(params["group_mib"] * (1 << 20)),
        )

    groups = list_pending()
    deliver = BrazeCurrentsToTreasureDataOperator.partial(
        task_id="deliver",
        staging_url="{{ params.staging_url }}",
        ledger_url="{{ params.ledger_url }}",
        staging_conn_id="{{ params.staging_conn_id or None }}",
        ledger_conn_id="{{ params.ledger_conn_id or None }}",
        mode="{{ params.mode }}",
        td_conn_id="treasure_data_default",
        database="{{ params.database }}",
        table="{{ params.table }}",
        postback_url="{{ params.postback_url }}",
        require_external_user_id="{{ params.require_external_user_id }}",
        create_table=True,
        outlets=[AssetAlias(TABLES_ALIAS)],  # each TD table written becomes an Asset event
    ).expand(event_types=groups)
    check = CurrentsDeliveryLagSensor(
        task_id="check_delivery_lag",
        staging_url="{{ params.staging_url }}",
        ledger_url="{{ params.ledger_url }}",
        staging_conn_id="{{ params.staging_conn_id or None }}",
        ledger_conn_id="{{ params.ledger_conn_id or None }}",
        event_types="{{ params.event_types }}",
        loss_window_hours="{{ params.loss_window_hours }}",
        fail_margin_hours="{{ params.fail_margin_hours }}",
        trigger_rule="all_done",
        poke_interval=LAG_POKE_SECONDS,
        hand_over_after_minutes=50,
    )
    groups >> deliver >> check

# Downstream: runs whenever a delivery wrote to the demo's table (the params' defaults; region us01 is the
# connection's default). A DAG of yours scheduled on its own TD table's Asset works the same way.
DEMO_TABLE = Asset(table_asset_uri("us01", "braze", "currents_events"))

with DAG(
    dag_id="braze_td_table_updated",
    schedule=[DEMO_TABLE],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["braze", "treasure-data"],
) as downstream:

    @task(inlets=[DEMO_TABLE])
    def table_updated(triggering_asset_events=None) -> int:
        """What a downstream job starts from: the Asset events that triggered this run."""
        events = sum(len(found) for found in (triggering_asset_events or {}).values())
        print(f"{events} Asset event(s) of {DEMO_TABLE.uri}")
        return events

    table_updated()
