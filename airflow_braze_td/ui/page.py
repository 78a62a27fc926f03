"""The lag page's HTML, from the same JSON the page's endpoint serves: a figure shown is a figure in the JSON.

Every figure sits in an element with `data-field` (and `data-event-type` in the per type table), so a reader
or a test can find it; nothing is fetched by the browser but the page itself.
"""

from __future__ import annotations

from html import escape

from airflow_braze_td.ui.chart import delivered_chart, lag_chart

_STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
td.n{text-align:right} .ok{color:#2a7a3a} .attention{color:#b07800} .fail_line{color:#c02020;font-weight:bold}
.error{color:#c02020} .muted{color:#777;font-size:12px}
"""
_TYPE_COLUMNS = (
    ("lag_hours", "lag (h)"), ("hours_left", "hours left"), ("pending_files", "pending files"),
    ("pending_mb", "pending MB"), ("quarantined_files", "quarantined files"),
    ("drained_mb_per_hour", "drained MB/h"), ("hours_to_clear", "hours to clear"),
)


def _cell(value: object, field: str, event_type: str | None = None) -> str:
    shown = "–" if value is None else escape(str(value))
    owner = f' data-event-type="{escape(event_type)}"' if event_type else ""
    return f'<td class="n" data-field="{field}"{owner}>{shown}</td>'


def _source(entry: dict) -> str:
    name = escape(entry["name"])
    head = (f'<section data-source="{name}"><h2>{name}</h2><p class="muted">staging {escape(entry["staging_url"])}'
            f' · ledger {escape(entry["ledger_url"])}</p>')
    if entry.get("error"):
        return f'{head}<p class="error" data-field="error">{escape(entry["error"])}</p></section>'
    status = entry["status"]
    parts = [head, f'<p class="{escape(status["level"])}" data-field="verdict">{escape(status["verdict"])}</p>',
             f'<p class="muted">checked at <span data-field="checked_at">{escape(status["checked_at"])}</span></p>',
             "<table><tr><th>lag (h)</th><th>hours left</th><th>pending files</th><th>pending MB</th>"
             "<th>quarantined files</th><th>drained MB/h</th><th>hours to clear</th></tr><tr>",
             *(_cell(status[field], field) for field, _ in _TYPE_COLUMNS), "</tr></table>",
             '<h3>Lag over the last 48 hours</h3>', lag_chart(status["history"], status["thresholds"]),
             '<h3>Events delivered per hour</h3>', delivered_chart(status["history"]),
             "<h3>Per event type</h3><table><tr><th>event type</th>",
             *(f"<th>{label}</th>" for _, label in _TYPE_COLUMNS), "<th>last delivery error</th></tr>"]
    for row in status["by_event_type"]:
        event_type = row["event_type"]
        error = row["last_error"]
        parts.append(f"<tr><td>{escape(event_type)}</td>")
        parts.extend(_cell(row[field], field, event_type) for field, _ in _TYPE_COLUMNS)
        parts.append(f'<td data-field="last_error" data-event-type="{escape(event_type)}">'
                     f'{escape(error["message"]) if error else ""}</td></tr>')
    parts.append("</table></section>")
    return "".join(parts)


def render_page(sources: list[dict]) -> str:
    """The whole page: one section per staging and ledger pair (see `sources.py`)."""
    body = "".join(_source(entry) for entry in sources) or (
        '<p data-field="no-sources">No staging and ledger pair is configured: set [braze_td] lag_page_sources, '
        "or BRAZE_TD_STAGING_URL and BRAZE_TD_LEDGER_URL (the example DAG's), in the API server's environment.</p>")
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>Braze → TD delivery lag</title>'
            f"<style>{_STYLE}</style></head><body><h1>Braze → TD delivery lag</h1>"
            '<p class="muted">Read-only; the same figures as <a href="status.json">status.json</a> and '
            "<code>braze-td status --json</code>.</p>"
            f"{body}</body></html>")
