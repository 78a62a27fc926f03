"""The lag page's FastAPI app (Airflow 3.1+): the page and its JSON, behind Airflow's own authentication.

Plugin apps are not protected by default; every route here depends on `requires_access_dag("GET")`, so a
request without a valid token or session cookie gets 401 (403 for a bad token or a user who may not read
DAGs). Read-only: it lists the staging prefixes and reads the ledgers, and never writes.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.providers.common.compat.sdk import conf
from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.delivery.status import delivery_status
from airflow_braze_td.hooks.currents import CurrentsExportHook
from airflow_braze_td.hooks.ledger import ledger_at
from airflow_braze_td.ui.page import render_page
from airflow_braze_td.ui.sources import OPTION, SECTION, LagSource, lag_sources


def source_status(source: LagSource) -> dict:
    """One pair's entry: where it is, and its `delivery_status` (or the error that kept it from being read)."""
    entry = {"name": source.name, "staging_url": source.staging_url, "ledger_url": source.ledger_url}
    try:
        staging = CurrentsExportHook(source.staging_url, source.staging_conn_id).staging
        ledger = ledger_at(source.ledger_url, source.ledger_conn_id)
        status = delivery_status(staging, ledger, source.thresholds, event_types=EventTypeSelector(source.event_types),
                                 dedupe_hours=source.dedupe_hours)
    except Exception as error:  # one unreadable pair must not hide the others
        return {**entry, "error": f"{type(error).__name__}: {error}"}
    return {**entry, "status": status.to_dict()}


def all_sources() -> list[dict]:
    try:
        sources = lag_sources(conf.get(SECTION, OPTION, fallback=""))
    except ValueError as error:
        return [{"name": "configuration", "staging_url": "", "ledger_url": "", "error": str(error)}]
    return [source_status(source) for source in sources]


def create_app() -> FastAPI:
    app = FastAPI(title="Braze → TD delivery lag", dependencies=[Depends(requires_access_dag("GET"))],
                  docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/status.json")
    def status_json() -> dict:
        """The figures of every pair, as `braze-td status --json` prints them for one."""
        return {"sources": all_sources()}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return render_page(all_sources())

    return app
