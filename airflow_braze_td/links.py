"""Extra links in the task view: the operator's "Treasure Data table", the sensor's "Delivery lag page".

Registered in get_provider_info "extra-links" so the API server can show them for serialized DAGs.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom
from airflow_braze_td.ui import PAGE_ROUTE

# XCom key under which the operator pushes the TD tables it wrote ({"region", "database", "tables", ...}).
TABLES_XCOM_KEY = "treasure_data_tables"


class TreasureDataTableLink(BaseOperatorLink):
    """The TD console page of the table the task wrote (of its database when it wrote several tables)."""

    name = "Treasure Data table"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        written = XCom.get_value(ti_key=ti_key, key=TABLES_XCOM_KEY)
        return written["console_url"] if written else ""


class DeliveryLagPageLink(BaseOperatorLink):
    """The lag page inside the Airflow UI (Airflow 3.1+; see `ui/plugin.py`)."""

    name = "Delivery lag page"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return f"/plugin/{PAGE_ROUTE}"
