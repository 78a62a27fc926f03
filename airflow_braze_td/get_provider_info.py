"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point."""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-braze-td",
        "name": "Braze Currents to Treasure Data",
        "description": "Delivers Braze Currents staged exports to Treasure Data, with a delivery ledger "
        "and a delivery-lag sensor that fails before Braze's 48-hour loss window closes.",
        "hooks": [
            {
                "integration-name": "Braze Currents",
                "python-modules": ["airflow_braze_td.hooks.currents"],
            },
        ],
        "connection-types": [],
    }
