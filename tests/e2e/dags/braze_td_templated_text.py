"""A DAG as a user writes one: settings templated from params, without `render_template_as_native_obj`, so
every templated value reaches the operator as text ("False", "0", "48")."""

from __future__ import annotations

import pendulum

from airflow.providers.common.compat.sdk import DAG, Param
from airflow_braze_td.operators.currents_to_treasure_data import BrazeCurrentsToTreasureDataOperator

with DAG(
    dag_id="braze_td_templated_text",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "staging_url": Param("", type="string"),
        "ledger_url": Param("", type="string"),
        "require_external_user_id": Param(True, type="boolean"),
        "replay": Param(False, type="boolean"),
    },
) as dag:
    BrazeCurrentsToTreasureDataOperator(
        task_id="deliver",
        staging_url="{{ params.staging_url }}",
        ledger_url="{{ params.ledger_url }}",
        mode="postback",
        database="braze",
        table="currents",
        require_external_user_id="{{ params.require_external_user_id }}",
        replay="{{ params.replay }}",
        create_table=True,
    )
