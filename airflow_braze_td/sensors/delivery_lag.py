"""`CurrentsDeliveryLagSensor`: fails the DAG, loudly, before Braze's 48-hour loss window closes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    BaseSensorOperator,
    Stats,
    conf,
)
from airflow_braze_td.coerce import as_names, as_number, as_optional_number
from airflow_braze_td.compat import SERVES_FASTAPI_PLUGINS
from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.delivery.lag import DEFAULT_THRESHOLDS, LagStatus, LagThresholds, check_lag
from airflow_braze_td.hooks.currents import CurrentsExportHook
from airflow_braze_td.hooks.ledger import ledger_at
from airflow_braze_td.links import DeliveryLagPageLink
from airflow_braze_td.triggers.delivery_lag import DeliveryLagTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

LAG_GAUGE = "braze_td.delivery_lag_hours"


class CurrentsDeliveryLagSensor(BaseSensorOperator):
    """Wait until every staged file due is delivered; fail at `loss_window - fail_margin` hours of lag.

    Lag is now minus the queue hour of the oldest staged file the ledger does not show as delivered
    (quarantined data counts as undelivered). Past the fail line it raises `AirflowFailException`: no
    retries, and the DAG run fails. It pushes `lag_hours` to XCom and the `braze_td.delivery_lag_hours`
    StatsD gauge. With `max_staging_silence_hours` it also fails when Braze stops staging files.
    With `hand_over_after_minutes`, a check still waiting that long after its data interval ends is
    skipped, so a scheduled DAG's runs do not pile up: the next run's check carries on the watch.

    :param staging_url: staging prefix (`s3://…`, `gs://…`, `abfs://…`, `file:///…` or a local path).
    :param ledger_url: the delivery ledger the delivery operator writes.
    :param staging_conn_id: storage connection with the staging bucket's credentials; empty for defaults.
    :param ledger_conn_id: storage connection with the ledger's credentials; empty for defaults.
    :param event_types: names or glob patterns of the event types to watch; empty means every type.
    :param loss_window_hours: how long Braze keeps events it could not deliver (48 hours).
    :param fail_margin_hours: fail this many hours before the loss window closes.
    :param warn_after_hours: log a warning once the lag reaches this many hours.
    :param max_staging_silence_hours: also fail when no file has been staged for this long; empty: never.
    :param hand_over_after_minutes: skip a check still waiting this long after its data interval ends.
    :param deferrable: wait in the triggerer rather than in a worker slot.
    """

    template_fields: Sequence[str] = (
        "staging_url", "ledger_url", "staging_conn_id", "ledger_conn_id", "event_types", "loss_window_hours",
        "fail_margin_hours", "warn_after_hours", "max_staging_silence_hours",
    )
    ui_color = "#f4a6a6"
    operator_extra_links = (DeliveryLagPageLink(),) if SERVES_FASTAPI_PLUGINS else ()

    def __init__(
        self,
        *,
        staging_url: str,
        ledger_url: str,
        staging_conn_id: str | None = None,
        ledger_conn_id: str | None = None,
        event_types: Sequence[str] | None = None,
        loss_window_hours: float = DEFAULT_THRESHOLDS.loss_window_hours,
        fail_margin_hours: float = DEFAULT_THRESHOLDS.fail_margin_hours,
        warn_after_hours: float = DEFAULT_THRESHOLDS.warn_after_hours,
        max_staging_silence_hours: float | None = DEFAULT_THRESHOLDS.max_staging_silence_hours,
        hand_over_after_minutes: float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 300)
        super().__init__(**kwargs)
        self.staging_url = staging_url
        self.ledger_url = ledger_url
        self.staging_conn_id = staging_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.event_types = event_types
        self.loss_window_hours = loss_window_hours
        self.fail_margin_hours = fail_margin_hours
        self.warn_after_hours = warn_after_hours
        self.max_staging_silence_hours = max_staging_silence_hours
        self.hand_over_after_minutes = hand_over_after_minutes
        self.deferrable = deferrable

    def _settings(self, context: Context) -> tuple[LagThresholds, list[str], float | None]:
        """The thresholds, event types and hand-over time (Unix), templated values read the one way (`coerce`);
        a bad one fails without retries."""
        try:
            hand_over_after = as_optional_number(self.hand_over_after_minutes, "hand_over_after_minutes")
            thresholds = LagThresholds(
                *(as_number(getattr(self, name), name)
                  for name in ("loss_window_hours", "fail_margin_hours", "warn_after_hours")),
                as_optional_number(self.max_staging_silence_hours, "max_staging_silence_hours"),
            )
            event_types = as_names(self.event_types, "event_types")
        except ValueError as error:
            raise AirflowFailException(str(error)) from None
        interval_end = context.get("data_interval_end")
        hand_over_at = None
        if hand_over_after is not None and interval_end is not None:
            hand_over_at = interval_end.timestamp() + hand_over_after * 60
        return thresholds, event_types, hand_over_at

    def _check(self, thresholds: LagThresholds, event_types: list[str], hand_over_at: float | None) -> LagStatus:
        return check_lag(
            CurrentsExportHook(str(self.staging_url), self.staging_conn_id).staging,
            ledger_at(str(self.ledger_url), self.ledger_conn_id),
            thresholds,
            event_types=EventTypeSelector(event_types),
            hand_over_at=hand_over_at,
        )

    def execute(self, context: Context) -> float | None:
        if not self.deferrable:
            return super().execute(context)
        thresholds, event_types, hand_over_at = self._settings(context)
        status = self._check(thresholds, event_types, hand_over_at)
        if status.status == "waiting":
            self.defer(
                trigger=DeliveryLagTrigger(
                    str(self.staging_url),
                    str(self.ledger_url),
                    staging_conn_id=self.staging_conn_id,
                    ledger_conn_id=self.ledger_conn_id,
                    event_types=event_types,
                    loss_window_hours=thresholds.loss_window_hours,
                    fail_margin_hours=thresholds.fail_margin_hours,
                    warn_after_hours=thresholds.warn_after_hours,
                    max_staging_silence_hours=thresholds.max_staging_silence_hours,
                    poke_interval=float(self.poke_interval),
                    hand_over_at=hand_over_at,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout) if self.timeout else None,
            )
        return self._conclude(context, status)

    def poke(self, context: Context) -> bool:
        status = self._check(*self._settings(context))
        if status.status == "waiting":
            self._publish(context, status)
            self.log.info(status.message)
            return False
        self._conclude(context, status)
        return True

    def execute_complete(self, context: Context, event: dict) -> float:
        return self._conclude(context, LagStatus.from_dict(event))

    def _publish(self, context: Context, status: LagStatus) -> float:
        report = status.report
        Stats.gauge(LAG_GAUGE, report.lag_hours)
        context["ti"].xcom_push(key="lag_hours", value=report.lag_hours)
        context["ti"].xcom_push(key="hours_left", value=report.hours_left)
        context["ti"].xcom_push(key="hours_to_clear", value=report.hours_to_clear)
        if status.warning:
            self.log.warning(status.warning)
        return report.lag_hours

    def _conclude(self, context: Context, status: LagStatus) -> float:
        if status.status == "error":  # the trigger's check could not run: a retry may
            raise AirflowException(status.message)
        lag = self._publish(context, status)
        if status.status == "failed":
            self.log.error(status.message)
            raise AirflowFailException(status.message)
        if status.status == "handed_over":
            raise AirflowSkipException(status.message)
        self.log.info(status.message)
        return lag
