"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point."""

from __future__ import annotations


def get_provider_info() -> dict:
    from airflow_braze_td.hooks.currents import CONNECTION_TYPE_INFO as CURRENTS_CONNECTION
    from airflow_braze_td.hooks.treasure_data import CONNECTION_TYPE_INFO as TREASURE_DATA_CONNECTION

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
    }
