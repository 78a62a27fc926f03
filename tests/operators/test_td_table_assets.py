"""What the operator tells Airflow about the TD tables it wrote: Asset events through its alias outlet, the
"Treasure Data table" link's target, and OpenLineage datasets; a real delivery to the emulator."""

from __future__ import annotations

import pytest

from airflow.providers.common.compat.sdk import Asset, AssetAlias
from airflow_braze_td.links import TABLES_XCOM_KEY
from airflow_braze_td.operators.lineage import TABLES_ALIAS, staging_dataset_name
from airflow_braze_td.treasure_data.endpoints import console_url
from tests.reliability.conftest import KEY, client_for, connect, operator_for, run_context, world  # noqa: F401

OPEN_TABLE = "events_users_messages_email_open"


def test_each_table_written_is_an_asset_event_and_the_link_target(world, connect):
    client_for(world.emulator.url).ensure_table("braze", OPEN_TABLE)
    connect(host=world.emulator.url, password=KEY, extra={"region": "eu01"})
    operator = operator_for(world, mode="import", table="events_{event_type}")
    context = run_context()
    operator.execute(context)

    alias = AssetAlias(TABLES_ALIAS)
    assert operator.outlets == [alias]
    assert context["outlet_events"][alias].added == [Asset(f"treasuredata://eu01/braze/{OPEN_TABLE}")]
    written = context["ti"].pushed[TABLES_XCOM_KEY]
    assert written["tables"] == [OPEN_TABLE] and written["region"] == "eu01"
    assert written["console_url"] == f"https://console.eu01.treasuredata.com/databases/braze/tables/{OPEN_TABLE}"


def test_a_delivery_that_sends_nothing_announces_nothing(world, connect):
    connect(host=world.emulator.url, password=KEY)
    operator_for(world).execute(run_context())
    again = run_context()
    operator = operator_for(world)
    operator.execute(again)  # every file is delivered already
    assert again["outlet_events"] == {} and again["ti"].pushed == {} and operator.written is None


def test_openlineage_has_the_staging_prefix_in_and_the_table_out(world, connect):
    pytest.importorskip("airflow.providers.openlineage", reason="the openlineage extra is not installed")
    connect(host=world.emulator.url, password=KEY)
    operator = operator_for(world)
    assert operator.get_openlineage_facets_on_complete(None).outputs == []
    operator.execute(run_context())
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(data.namespace, data.name) for data in lineage.inputs] == [("file", str(world.staging_dir))]
    assert [(data.namespace, data.name) for data in lineage.outputs] == [("treasuredata://us01", "braze.currents")]


def test_names_of_places():
    assert staging_dataset_name("s3://bucket/braze/currents/") == ("s3://bucket", "braze/currents")
    assert staging_dataset_name("file:///data/staging") == ("file", "/data/staging")
    assert console_url("tokyo", "braze") == "https://console.treasuredata.co.jp/databases/braze"
    with pytest.raises(ValueError, match="unknown Treasure Data region"):
        console_url("mars01", "braze")
