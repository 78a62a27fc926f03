"""Which staging and ledger pairs the lag page shows: `[braze_td] lag_page_sources` and the example DAG's env."""

from __future__ import annotations

import pytest

from airflow_braze_td.ui.sources import lag_sources


def test_configured_pairs_then_the_example_dags():
    configured = ('[{"name": "prod", "staging_url": "s3://a/braze", "ledger_url": "s3://b/td", '
                  '"ledger_conn_id": "aws_default", "event_types": ["users.*"], "fail_margin_hours": 6}]')
    environ = {"BRAZE_TD_STAGING_URL": "/data/staging", "BRAZE_TD_LEDGER_URL": "/data/ledger",
               "BRAZE_TD_STAGING_CONN_ID": ""}
    prod, example = lag_sources(configured, environ)
    assert (prod.name, prod.staging_conn_id, prod.ledger_conn_id, prod.event_types) == (
        "prod", None, "aws_default", ("users.*",))
    assert prod.thresholds.fail_line_hours == 42.0
    assert (example.staging_url, example.ledger_url, example.staging_conn_id) == ("/data/staging", "/data/ledger", None)
    assert lag_sources("", {}) == []
    # The example DAG's pair, configured too, is shown once.
    assert len(lag_sources('[{"staging_url": "/data/staging", "ledger_url": "/data/ledger"}]', environ)) == 1


@pytest.mark.parametrize(("configured", "message"), [
    ("{not json", "is not JSON"),
    ('{"staging_url": "x"}', "must be a JSON list"),
    ('[{"staging_url": "x"}]', "entry 0: give an object with staging_url and ledger_url"),
    ('[{"staging_url": "x", "ledger_url": "y", "fail_margin_hours": 60}]', "fail_margin_hours must be"),
    ('[{"staging_url": "x", "ledger_url": "y", "warn_after_hours": "soon"}]', "entry 0: warn_after_hours must be a number"),
    ('[{"staging_url": "x", "ledger_url": "y", "loss_window_hours": "inf"}]', "entry 0: loss_window_hours must be a number"),
    ('[{"staging_url": "x", "ledger_url": "y", "dedupe_hours": "a day"}]', "entry 0: dedupe_hours must be a number"),
    ('[{"staging_url": "x", "ledger_url": "y", "dedupe_hours": 2.5}]', "entry 0: dedupe_hours must be a whole number"),
])
def test_a_bad_setting_is_named(configured, message):
    with pytest.raises(ValueError, match=message):
        lag_sources(configured, {})
