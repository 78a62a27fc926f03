"""`/_emulator/...`: the Python API over HTTP, for an emulator running in another process.

Admin calls never consume faults and are not written to the request log.
"""

from __future__ import annotations

from typing import Any

import orjson

from airflow_braze_td.emulator.app import EmulatorApp, path_segments
from airflow_braze_td.emulator.faults import DEFAULT_CHAOS_KINDS, Fault
from airflow_braze_td.emulator.protocol import Request, Response, error, json_response
from airflow_braze_td.emulator.store import Store

ADMIN_PREFIX = "/_emulator/"


def _json_body(request: Request) -> Any:
    return orjson.loads(request.body) if request.body.strip() else None


def _push_faults(app: EmulatorApp, request: Request) -> Response:
    specs = _json_body(request)
    if isinstance(specs, dict):
        specs = [specs]
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        return error(400, "InvalidFaults", "send a JSON list of fault objects")
    app.faults.push([Fault.from_spec(spec) for spec in specs])
    return json_response(200, {"queued": len(specs), "pending": app.faults.pending()})


def _random_faults(app: EmulatorApp, request: Request) -> Response:
    settings = _json_body(request) or {}
    if not isinstance(settings, dict):
        return error(400, "InvalidSettings", "send a JSON object: rate, kinds, seed, slow_seconds, retry_after")
    app.faults.set_chaos(
        rate=float(settings.get("rate", 0.0)),
        kinds=settings.get("kinds", DEFAULT_CHAOS_KINDS),
        seed=settings.get("seed"),
        slow_seconds=float(settings.get("slow_seconds", 0.2)),
        retry_after=settings.get("retry_after", "1"),
    )
    return json_response(200, {})


def _reset(app: EmulatorApp, request: Request) -> Response:
    app.reset()
    return json_response(200, {})


def stored_event_ids(store: Store, database: str) -> list[list[str]]:
    """Every visible row of every table of `database`, as the event ids it holds: a postback row holds a
    batch (its `events` column), a flat import or ingest row one event. What tests and runs compare with."""
    return [
        [event["id"] for event in row["events"]] if isinstance(row.get("events"), list) else [row["id"]]
        for table in store.list_tables(database)
        for row in store.rows(database, table["name"])
    ]


def handle_admin(app: EmulatorApp, request: Request) -> Response:
    """Answer an admin request; malformed settings get a 400 naming the problem."""
    segments = path_segments(request.path)[1:]
    try:
        return _dispatch(app, request, segments)
    except (ValueError, TypeError) as exc:
        return error(400, "InvalidAdminRequest", str(exc))


def _dispatch(app: EmulatorApp, request: Request, segments: list[str]) -> Response:
    method = request.method
    match segments:
        case ["health"] if method == "GET":
            return json_response(200, {"status": "ok", "pending_faults": app.faults.pending()})
        case ["faults"] if method == "POST":
            return _push_faults(app, request)
        case ["random_faults"] if method == "POST":
            return _random_faults(app, request)
        case ["fault_counts"] if method == "GET":
            return json_response(200, app.faults.counts())
        case ["rows", database, table] if method == "GET":
            return json_response(200, app.store.rows(database, table))
        case ["event_ids", database] if method == "GET":
            return json_response(200, stored_event_ids(app.store, database))
        case ["count", database, table] if method == "GET":
            return json_response(200, {"count": app.store.count(database, table)})
        case ["requests"] if method == "GET":
            return json_response(200, app.log.entries())
        case ["reset"] if method == "POST":
            return _reset(app, request)
    return error(404, "NotFound", f"no admin endpoint {method} {request.path}")
