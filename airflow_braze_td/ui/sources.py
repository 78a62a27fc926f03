"""Which staging and ledger pairs the lag page shows: configured in Airflow, plus the example DAG's.

`[braze_td] lag_page_sources` (or AIRFLOW__BRAZE_TD__LAG_PAGE_SOURCES) is a JSON list of objects with
`staging_url` and `ledger_url`, and optionally `name`, `staging_conn_id`, `ledger_conn_id`, `event_types`,
`loss_window_hours`, `fail_margin_hours`, `warn_after_hours` and `dedupe_hours`. When BRAZE_TD_STAGING_URL and
BRAZE_TD_LEDGER_URL are set (the example DAG's defaults, with BRAZE_TD_STAGING_CONN_ID and
BRAZE_TD_LEDGER_CONN_ID), that pair is shown too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import orjson

from airflow_braze_td.coerce import as_names, as_number
from airflow_braze_td.delivery.filters import DEFAULT_DEDUPE_HOURS
from airflow_braze_td.delivery.lag import DEFAULT_THRESHOLDS, LagThresholds

SECTION, OPTION = "braze_td", "lag_page_sources"


@dataclass(frozen=True)
class LagSource:
    name: str
    staging_url: str
    ledger_url: str
    staging_conn_id: str | None = None
    ledger_conn_id: str | None = None
    event_types: tuple[str, ...] = ()
    thresholds: LagThresholds = field(default_factory=LagThresholds)
    dedupe_hours: int = DEFAULT_DEDUPE_HOURS


def _source(item: object, position: int) -> LagSource:
    where = f"[{SECTION}] {OPTION} entry {position}"
    if not isinstance(item, dict) or not item.get("staging_url") or not item.get("ledger_url"):
        raise ValueError(f"{where}: give an object with staging_url and ledger_url")
    try:
        thresholds = LagThresholds(*(as_number(item.get(name, getattr(DEFAULT_THRESHOLDS, name)), name)
                                     for name in ("loss_window_hours", "fail_margin_hours", "warn_after_hours")))
        dedupe_hours = as_number(item.get("dedupe_hours", DEFAULT_DEDUPE_HOURS), "dedupe_hours")
        if dedupe_hours < 0 or not dedupe_hours.is_integer():
            raise ValueError(f"dedupe_hours must be a whole number of hours, 0 or more, not {dedupe_hours:g}")
        event_types = tuple(as_names(item.get("event_types"), "event_types"))
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return LagSource(name=str(item.get("name") or item["ledger_url"]), staging_url=str(item["staging_url"]),
                     ledger_url=str(item["ledger_url"]), staging_conn_id=item.get("staging_conn_id") or None,
                     ledger_conn_id=item.get("ledger_conn_id") or None, event_types=event_types,
                     thresholds=thresholds, dedupe_hours=int(dedupe_hours))


def lag_sources(configured: str, environ: dict[str, str] = os.environ) -> list[LagSource]:
    """The pairs of `configured` (the option's JSON text) and of the example DAG's environment."""
    try:
        items = orjson.loads(configured) if configured.strip() else []
    except orjson.JSONDecodeError as error:
        raise ValueError(f"[{SECTION}] {OPTION} is not JSON: {error}") from None
    if not isinstance(items, list):
        raise ValueError(f"[{SECTION}] {OPTION} must be a JSON list of objects")
    sources = [_source(item, position) for position, item in enumerate(items)]
    staging, ledger = environ.get("BRAZE_TD_STAGING_URL"), environ.get("BRAZE_TD_LEDGER_URL")
    if staging and ledger and all(source.ledger_url != ledger for source in sources):
        sources.append(LagSource(name="example DAG (BRAZE_TD_* environment)", staging_url=staging, ledger_url=ledger,
                                 staging_conn_id=environ.get("BRAZE_TD_STAGING_CONN_ID") or None,
                                 ledger_conn_id=environ.get("BRAZE_TD_LEDGER_CONN_ID") or None))
    return sources
