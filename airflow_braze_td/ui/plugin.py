"""`BrazeTdPlugin`: registered by the package's `airflow.plugins` entry point, so installing it is enough.

On Airflow 3.1+ it serves the lag page (`app.py`) and adds it to the UI's navigation; on Airflow 2.11, which
has no FastAPI plugin apps, it is an empty plugin and importing this module imports nothing of FastAPI.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowPlugin
from airflow_braze_td.compat import SERVES_FASTAPI_PLUGINS
from airflow_braze_td.ui import PAGE_ROUTE, URL_PREFIX


def _apps() -> tuple[list[dict], list[dict]]:
    if not SERVES_FASTAPI_PLUGINS:
        return [], []
    from airflow_braze_td.ui.app import create_app

    return (
        [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Braze → TD delivery lag"}],
        [{"name": "Braze → TD", "href": f"{URL_PREFIX}/", "destination": "nav", "url_route": PAGE_ROUTE,
          "category": "browse"}],
    )


class BrazeTdPlugin(AirflowPlugin):
    name = "braze_td"
    fastapi_apps, external_views = _apps()
