"""`DeliveryLagTrigger`: the deferrable form of the lag sensor's check, run in the triggerer.

It only reads (one staging listing, one ledger listing per check) and never posts data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.delivery.lag import LagThresholds, judge, lag_report


class DeliveryLagTrigger(BaseTrigger):
    """Checks the lag every `poke_interval` seconds until everything due is delivered, the fail line is hit,
    or `hand_over_at` (Unix time) passes while still waiting."""

    def __init__(
        self,
        staging_url: str,
        ledger_url: str,
        *,
        staging_conn_id: str | None = None,
        ledger_conn_id: str | None = None,
        event_types: list[str] | None = None,
        loss_window_hours: float = 48.0,
        fail_margin_hours: float = 12.0,
        warn_after_hours: float = 6.0,
        max_staging_silence_hours: float | None = None,
        poke_interval: float = 300.0,
        hand_over_at: float | None = None,
    ) -> None:
        super().__init__()
        self.staging_url = staging_url
        self.ledger_url = ledger_url
        self.staging_conn_id = staging_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.event_types = list(event_types or [])
        self.loss_window_hours = loss_window_hours
        self.fail_margin_hours = fail_margin_hours
        self.warn_after_hours = warn_after_hours
        self.max_staging_silence_hours = max_staging_silence_hours
        self.poke_interval = poke_interval
        self.hand_over_at = hand_over_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "staging_url": self.staging_url,
                "ledger_url": self.ledger_url,
                "staging_conn_id": self.staging_conn_id,
                "ledger_conn_id": self.ledger_conn_id,
                "event_types": self.event_types,
                "loss_window_hours": self.loss_window_hours,
                "fail_margin_hours": self.fail_margin_hours,
                "warn_after_hours": self.warn_after_hours,
                "max_staging_silence_hours": self.max_staging_silence_hours,
                "poke_interval": self.poke_interval,
                "hand_over_at": self.hand_over_at,
            },
        )

    def check(self) -> dict:
        """One synchronous check: the report and the verdict, as plain values."""
        from airflow_braze_td.hooks.currents import CurrentsExportHook
        from airflow_braze_td.operators.currents_to_treasure_data import ledger_at

        staging = CurrentsExportHook(self.staging_url, self.staging_conn_id).staging
        ledger = ledger_at(self.ledger_url, self.ledger_conn_id)
        thresholds = LagThresholds(
            self.loss_window_hours, self.fail_margin_hours, self.warn_after_hours, self.max_staging_silence_hours
        )
        report = lag_report(
            staging, ledger, event_types=EventTypeSelector(self.event_types), loss_window_hours=self.loss_window_hours
        )
        verdict = judge(report, thresholds, ledger.last_errors)
        status, message = verdict.status, verdict.message
        if status == "waiting" and self.hand_over_at is not None and time.time() >= self.hand_over_at:
            status, message = "handed_over", f"{message}; handing the watch over to the next run's check"
        return {"status": status, "message": message, "warning": verdict.warning, "report": report.to_dict()}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            outcome = await asyncio.to_thread(self.check)
            if outcome["warning"]:
                self.log.warning(outcome["warning"])
            if outcome["status"] != "waiting":
                yield TriggerEvent(outcome)
                return
            self.log.info(outcome["message"])
            await asyncio.sleep(self.poke_interval)
