"""The emulator's request pipeline, free of socket handling: route, apply the fault, answer, log."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any
from urllib.parse import unquote

import orjson

from airflow_braze_td.emulator.auth import KeyRing, redact_query
from airflow_braze_td.emulator.endpoints import Route, TreasureDataAPI
from airflow_braze_td.emulator.faults import Fault, FaultInjector
from airflow_braze_td.emulator.protocol import Request, Response
from airflow_braze_td.emulator.store import Store

DATA_FAMILIES = frozenset({"postback", "import", "ingest"})
REQUEST_LOG_LIMIT = 200_000  # a million-event benchmark must not turn the log into the memory hog


class RequestLog:
    """The most recent requests (admin calls excluded), with secrets redacted; kept in memory, not printed."""

    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def record(self, request: Request, response: Response | None, fault: Fault | None) -> None:
        path = f"{request.path}?{redact_query(request.query_string)}" if request.query_string else request.path
        entry = {
            "time": time.time(),
            "method": request.method,
            "path": path,
            "status": None if response is None else response.status,
            "fault": None if fault is None else fault.kind,
            "body_bytes": len(request.body),
            "note": None if response is None else response.note,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def path_segments(path: str) -> list[str]:
    return [unquote(segment) for segment in path.split("/") if segment]


def fault_response(fault: Fault, status: int) -> Response:
    headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
    body = fault.body
    if body is None:
        body = {"error": "InjectedFault", "message": f"emulator fault {fault.kind}"}
    return Response(status, orjson.dumps(body), headers)


class EmulatorApp:
    """Everything one emulated Treasure Data account is: its data, its keys, its faults, its request log."""

    def __init__(
        self,
        store: str = ":memory:",
        api_keys: tuple[str, ...] = (),
        write_keys: tuple[str, ...] = (),
        strict_postback: bool = False,
        visibility_delay: float = 0.0,
        latency: float = 0.0,
    ) -> None:
        self.store = Store(store, visibility_delay)
        # Seconds every data request (postback, import, ingest) is held, as the real TD over the internet
        # answers in tens of milliseconds; a held request blocks only its own connection's thread.
        self.latency = latency
        self.faults = FaultInjector()
        self.log = RequestLog()
        self.api = TreasureDataAPI(self.store, KeyRing(api_keys, write_keys), strict_postback)

    def handle(self, request: Request) -> Response | None:
        """Answer a Treasure Data request; None means: reset the connection without answering."""
        routed = self.api.route(request.method, path_segments(request.path))
        fault = self.faults.next_fault(request.path, routed.family if isinstance(routed, Route) else None)
        if self.latency and isinstance(routed, Route) and routed.family in DATA_FAMILIES:
            self.faults.delay(self.latency)
        response = self._answer(request, routed, fault)
        self.log.record(request, response, fault)
        return response

    def _answer(self, request: Request, routed: Route | Response, fault: Fault | None) -> Response | None:
        if fault is None:
            return routed(request) if isinstance(routed, Route) else routed
        if fault.delay:
            self.faults.delay(fault.delay)
        if fault.reset:
            return None
        if fault.status is not None:
            return fault_response(fault, fault.status)
        if not isinstance(routed, Route):
            return routed
        if fault.fail_records:
            request.fail_records = frozenset(fault.fail_records)
        response = routed(request)
        if fault.store_then_status is not None and 200 <= response.status < 300:
            stored_then_failed = fault_response(fault, fault.store_then_status)
            stored_then_failed.note = response.note or f"stored, then answered {fault.store_then_status}"
            return stored_then_failed
        return response

    def reset(self) -> None:
        self.store.reset()
        self.faults.reset()
        self.log.clear()

    def close(self) -> None:
        self.store.close()
