"""`DeliveryLagTrigger`: the deferrable form of the lag sensor's check, run in the triggerer.

It only reads (one staging listing, one ledger listing per check) and never posts data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.delivery.lag import DEFAULT_THRESHOLDS, LagStatus, LagThresholds, check_lag
from airflow_braze_td.hooks.currents import CurrentsExportHook
from airflow_braze_td.hooks.ledger import ledger_at


class DeliveryLagTrigger(BaseTrigger):
    """Checks the lag every `poke_interval` seconds until everything due is delivered, the fail line is hit,
    or `hand_over_at` (Unix time) passes while still waiting. A check that cannot run (storage unreachable,
    a bad setting) ends in an "error" event, which fails the sensor's try."""

    def __init__(
        self,
        staging_url: str,
        ledger_url: str,
        *,
        staging_conn_id: str | None = None,
        ledger_conn_id: str | None = None,
        event_types: list[str] | None = None,
        loss_window_hours: float = DEFAULT_THRESHOLDS.loss_window_hours,
        fail_margin_hours: float = DEFAULT_THRESHOLDS.fail_margin_hours,
        warn_after_hours: float = DEFAULT_THRESHOLDS.warn_after_hours,
        max_staging_silence_hours: float | None = DEFAULT_THRESHOLDS.max_staging_silence_hours,
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

    def check(self) -> LagStatus:
        """One synchronous check."""
        thresholds = LagThresholds(
            self.loss_window_hours, self.fail_margin_hours, self.warn_after_hours, self.max_staging_silence_hours
        )
        return check_lag(
            CurrentsExportHook(self.staging_url, self.staging_conn_id).staging,
            ledger_at(self.ledger_url, self.ledger_conn_id),
            thresholds,
            event_types=EventTypeSelector(self.event_types),
            hand_over_at=self.hand_over_at,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            try:
                status = await asyncio.to_thread(self.check)
            except Exception as error:  # the event carries it to the sensor, which fails its try
                self.log.exception("The delivery lag check failed")
                message = f"the delivery lag check failed: {type(error).__name__}: {error}"
                yield TriggerEvent(LagStatus("error", message).to_dict())
                return
            if status.warning:
                self.log.warning(status.warning)
            if status.status != "waiting":
                yield TriggerEvent(status.to_dict())
                return
            self.log.info(status.message)
            await asyncio.sleep(self.poke_interval)
