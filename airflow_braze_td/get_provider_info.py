"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from typing import Any

from airflow_braze_td.treasure_data.endpoints import DEFAULT_REGION, REGIONS

# Plain data that imports nothing of Airflow: Airflow calls `get_provider_info` while it loads providers,
# so importing a hook (and through it Airflow) from here is circular. The hooks read their forms from here.
TREASURE_DATA_CONNECTION: dict[str, Any] = {
    "hook-class-name": "airflow_braze_td.hooks.treasure_data.TreasureDataHook",
    "connection-type": "treasure_data",
    "hook-name": "Treasure Data",
    "ui-field-behaviour": {
        "hidden-fields": ["login", "schema", "port"],
        "relabeling": {"password": "API key or write key", "host": "Host override (base URL)"},
        "placeholders": {
            "password": "<account id>/<40 hex>",
            "host": "empty: the region's own hosts; or one base URL for every endpoint, e.g. http://127.0.0.1:8089",
        },
    },
    "conn-fields": {
        "region": {
            "label": "Region",
            "description": "Treasure Data region of the account; ignored when Host is set.",
            "schema": {"type": ["string", "null"], "enum": list(REGIONS), "default": DEFAULT_REGION},
        },
        "database": {
            "label": "Default database",
            "description": "Database used when a task does not name one.",
            "schema": {"type": ["string", "null"], "pattern": "^[a-z0-9_]{3,255}$"},
        },
        "postback_url": {
            "label": "Postback URL",
            "description": "The URL copied from the Treasure Data console (postback mode); its write key is masked.",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
        "allow_insecure_http": {
            "label": "Allow plain http",
            "description": "Allow an http:// host that is not loopback (the key then travels unencrypted).",
            "schema": {"type": ["boolean", "null"], "default": False},
        },
        "timeout": {
            "label": "Timeout (seconds)",
            "description": "Seconds to wait for each request, or [connect, read]; default [10, 60].",
            "schema": {"type": ["number", "array", "null"]},
        },
        "retry": {
            "label": "Retry policy",
            "description": "Some of max_attempts, max_total_seconds, initial_wait, max_wait, e.g. "
            '{"max_attempts": 5}; default 7 tries within 300 s, waits from 0.5 s doubling to 60 s.',
            "schema": {"type": ["object", "null"]},
        },
    },
}


CURRENTS_CONNECTION: dict[str, Any] = {
    "hook-class-name": "airflow_braze_td.hooks.currents.CurrentsExportHook",
    "connection-type": "braze_currents",
    "hook-name": "Braze Currents staged export",
    "ui-field-behaviour": {
        "hidden-fields": ["login", "password", "schema", "port"],
        "relabeling": {"host": "Staging URL"},
        "placeholders": {"host": "s3://bucket/currents-prefix"},
    },
    "conn-fields": {
        "storage_conn_id": {
            "label": "Storage connection id",
            "description": "Connection that holds the bucket's credentials (e.g. aws_default); empty for defaults.",
            "schema": {"type": ["string", "null"]},
        },
    },
}


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-braze-td",
        "name": "Braze Currents to Treasure Data",
        "description": "Delivers Braze Currents staged exports to Treasure Data, with a delivery ledger "
        "and a delivery-lag sensor that fails before Braze's 48-hour loss window closes.",
        "hooks": [
            {
                "integration-name": "Braze Currents",
                "python-modules": ["airflow_braze_td.hooks.currents", "airflow_braze_td.hooks.treasure_data"],
            },
        ],
        "operators": [
            {
                "integration-name": "Braze Currents",
                "python-modules": ["airflow_braze_td.operators.currents_to_treasure_data"],
            },
        ],
        "sensors": [
            {"integration-name": "Braze Currents", "python-modules": ["airflow_braze_td.sensors.delivery_lag"]},
        ],
        "triggers": [
            {"integration-name": "Braze Currents", "python-modules": ["airflow_braze_td.triggers.delivery_lag"]},
        ],
        "connection-types": [TREASURE_DATA_CONNECTION, CURRENTS_CONNECTION],
        "extra-links": ["airflow_braze_td.links.TreasureDataTableLink", "airflow_braze_td.links.DeliveryLagPageLink"],
    }
