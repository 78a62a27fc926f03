"""`BrazeCurrentsToTreasureDataOperator`: wires templates, connections and the run context to the delivery core."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pendulum

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowNotFoundException,
    Asset,
    AssetAlias,
    BaseOperator,
)
from airflow_braze_td.coerce import as_bool, as_names
from airflow_braze_td.currents.layout import StagedFile, unknown_event_types
from airflow_braze_td.currents.staging import StagingArea, StagingNotFoundError
from airflow_braze_td.delivery.filters import DEFAULT_DEDUPE_HOURS, EventFilter, FieldTransform
from airflow_braze_td.delivery.lag import log_not_due, pending_files
from airflow_braze_td.delivery.ledger import FIRST_GENERATION, Ledger
from airflow_braze_td.delivery.groups import plan_event_type_groups
from airflow_braze_td.delivery.pipeline import Delivery
from airflow_braze_td.delivery.settings import DeliverySettings
from airflow_braze_td.delivery.sink import Sink
from airflow_braze_td.hooks.currents import CurrentsExportHook
from airflow_braze_td.hooks.ledger import ledger_at
from airflow_braze_td.hooks.treasure_data import TreasureDataHook, mask_write_key
from airflow_braze_td.identities import replay_generation
from airflow_braze_td.links import TABLES_XCOM_KEY, TreasureDataTableLink
from airflow_braze_td.operators.lineage import TABLES_ALIAS, WrittenTables, openlineage_facets
from airflow_braze_td.treasure_data.endpoints import postback_url_without_query
from airflow_braze_td.treasure_data.errors import TDError
from airflow_braze_td.treasure_data.sinks import MODES

if TYPE_CHECKING:
    from airflow.sdk import Context


def _as_time(value: Any) -> pendulum.DateTime | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, pendulum.DateTime) else pendulum.parse(str(value))


class BrazeCurrentsToTreasureDataOperator(BaseOperator):
    """Deliver staged Braze Currents exports to Treasure Data, exactly once per file as the ledger records it.

    By default it delivers every pending file (no ledger state yet) whose queue hour is before the
    run's data interval end, late files in past hours included. Map it over event-type groups
    (`list_pending_groups`) or over explicit `files` to spread the work over workers.

    :param staging_url: staging prefix (`s3://…`, `gs://…`, `abfs://…`, `file:///…` or a local path).
    :param ledger_url: where the delivery ledger lives; shared storage when several workers deliver.
    :param mode: `postback` (Braze's own TD export format), `import` (idempotent) or `ingest`.
    :param td_conn_id: the Treasure Data connection (type `treasure_data`): key, region or host, defaults.
    :param staging_conn_id: storage connection with the staging bucket's credentials; empty for defaults.
    :param ledger_conn_id: storage connection with the ledger's credentials; empty for defaults.
    :param database: Treasure Data database; default the connection's (or the postback URL's).
    :param table: table, or a template with `{event_type}` for one table per event type.
    :param postback_url: postback mode: the URL copied from the Treasure Data console (its write key is
        masked); default the connection's, unless a table is given.
    :param create_table: create a missing table (needs a key that may create tables) instead of failing.
    :param event_types: names or glob patterns; empty means every type.
    :param require_external_user_id: only users with an `external_user_id`, as Braze's TD export does.
    :param event_since: only events at or after this time (ISO time); default no lower bound.
    :param event_until: only events before this time (ISO time); default no upper bound.
    :param since: only files queued at or after this hour (ISO time); default every pending file.
    :param until: only files queued before this hour; default the data interval end.
    :param files: explicit staged files (dicts from `StagedFile.to_dict`), instead of listing.
    :param drop_fields: field paths (`user.…` or `properties.…`) removed from every event.
    :param hash_fields: field paths whose values are replaced by their SHA-256 (for PII).
    :param dedupe_hours: how many queue hours back an event id counts as a duplicate.
    :param replay: deliver again on purpose, ignoring the ledger's marks for the selected files.
    :param outlets: default the asset alias `braze_td_treasure_data_tables`, through which each TD table written
        becomes an Asset event (`treasuredata://<region>/<database>/<table>`); a mapped task (`.partial`) must
        name it itself: `outlets=[AssetAlias("braze_td_treasure_data_tables")]`.
    :param requests_in_flight: requests sent at once, hiding TD's answer time over the internet; default 16 for
        postback, 4 for import and ingest. It trades throughput against what a kill can repeat: in postback or
        ingest mode a worker killed with n in flight may leave n batches delivered and not recorded, which its
        retry sends again (by default at most 1,600 events in postback, 2,000 in ingest; none in import).
    """

    template_fields: Sequence[str] = (
        "staging_url", "ledger_url", "mode", "td_conn_id", "staging_conn_id", "ledger_conn_id", "database",
        "table", "postback_url", "event_types", "require_external_user_id", "event_since", "event_until",
        "until", "since", "files", "replay",
    )
    ui_color = "#f7c8a0"
    operator_extra_links = (TreasureDataTableLink(),)

    def __init__(
        self,
        *,
        staging_url: str,
        ledger_url: str,
        mode: str = "postback",
        td_conn_id: str = TreasureDataHook.default_conn_name,
        staging_conn_id: str | None = None,
        ledger_conn_id: str | None = None,
        database: str | None = None,
        table: str | None = None,
        postback_url: str | None = None,
        create_table: bool = False,
        event_types: Sequence[str] | None = None,
        require_external_user_id: bool = True,
        event_since: str | None = None,
        event_until: str | None = None,
        since: str | None = None,
        until: str | None = None,
        files: list[dict] | None = None,
        drop_fields: Sequence[str] = (),
        hash_fields: Sequence[str] = (),
        dedupe_hours: int = DEFAULT_DEDUPE_HOURS,
        replay: bool = False,
        requests_in_flight: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [AssetAlias(TABLES_ALIAS)])
        super().__init__(**kwargs)
        self.staging_url = staging_url
        self.ledger_url = ledger_url
        self.written: WrittenTables | None = None
        self.mode = mode
        self.td_conn_id = td_conn_id
        self.staging_conn_id = staging_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.database = database
        self.table = table
        self.postback_url = postback_url
        self.create_table = create_table
        self.event_types = event_types
        self.require_external_user_id = require_external_user_id
        self.event_since = event_since
        self.event_until = event_until
        self.since = since
        self.until = until
        self.files = files
        self.drop_fields = tuple(drop_fields)
        self.hash_fields = tuple(hash_fields)
        self.dedupe_hours = dedupe_hours
        self.replay = replay
        self.requests_in_flight = requests_in_flight

    @property
    def postback_url(self) -> str | None:
        return self._postback_url

    @postback_url.setter
    def postback_url(self, value: str | None) -> None:
        """Mask the write key as soon as a value is set: templates are rendered (and their values stored
        by Airflow) before `execute` runs, through a path that differs for mapped tasks."""
        self._postback_url = value
        if value:
            mask_write_key(str(value))

    def _owner(self, context: Context) -> str:
        """Who holds this delivery's claims: the same for every try and every Clear of one DAG run.

        It names the run by its logical date (one run per date and DAG), so a killed try's claims are
        taken over at once by its retry, while an overlapping run of another date waits for them.
        Mapped instances of one run share it: they deliver disjoint event types.
        """
        ti = context["ti"]
        logical_date = context.get("logical_date")
        run = logical_date.isoformat() if logical_date else ti.run_id
        return f"{ti.dag_id}/{ti.task_id}/{run}"

    def execute(self, context: Context) -> dict:
        ledger = self._writable_ledger()
        group = tuple(self._setting(ledger, (), as_names, self.event_types, "event_types"))
        event_filter = EventFilter(
            event_types=group,
            require_external_user_id=self._setting(
                ledger, group, as_bool, self.require_external_user_id, "require_external_user_id"
            ),
            since=_unix(self.event_since),
            until=_unix(self.event_until),
        )
        replay = self._setting(ledger, group, as_bool, self.replay, "replay")
        sink = self._sink(ledger, group)
        staging = self._staging(ledger, group)
        owner = self._owner(context)
        files = self._select(context, staging, ledger, event_filter, replay)
        unknown = unknown_event_types(staged.event_type for staged in files)
        if unknown:
            self.log.warning(
                "Delivering event type(s) this provider's catalog does not list, as they are (Braze adds types "
                "without notice; check their tables and filters): %s", ", ".join(unknown),
            )
        generation = replay_generation(owner) if replay else FIRST_GENERATION
        try:
            settings = DeliverySettings(
                event_filter=event_filter,
                transform=FieldTransform(self.drop_fields, self.hash_fields),
                dedupe_hours=self.dedupe_hours,
                generation=generation,
                requests_in_flight=self.requests_in_flight,
            )
        except ValueError as error:
            raise self._settings_error(ledger, group, str(error)) from None
        self.log.info("%d file(s) to deliver from %s to %s", len(files), self.staging_url, sink.destination)
        try:
            summary = Delivery(staging, sink, ledger, settings, owner).run(files)
        except TDError as error:
            ledger.record_error(str(error), **self._error_scope(group))
            if error.permanent:
                raise AirflowFailException(str(error)) from None
            raise
        ledger.clear_errors(**self._error_scope(group))
        if summary.events_sent:
            self._announce(context, sink, files)
        result = summary.to_dict()
        self.log.info("Delivery summary: %s", result)
        return result

    def _announce(self, context: Any, sink: Sink, files: list[StagedFile]) -> None:
        """Tell Airflow which TD tables this delivery wrote: an Asset event each (through the alias outlet), the
        "Treasure Data table" link's target, and the OpenLineage datasets."""
        self.written = WrittenTables(str(self.staging_url), sink.client.endpoints.region, sink.database,
                                     tuple(sorted({sink.router(staged.event_type) for staged in files})))
        context["ti"].xcom_push(key=TABLES_XCOM_KEY, value=self.written.to_xcom())
        alias = AssetAlias(TABLES_ALIAS)
        if any(outlet == alias for outlet in self.outlets):
            for uri in self.written.asset_uris:
                context["outlet_events"][alias].add(Asset(uri))
        self.log.info("Wrote Treasure Data table(s): %s", ", ".join(self.written.asset_uris))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Called by the OpenLineage provider, when installed: the staging prefix in, the TD tables out."""
        return openlineage_facets(self.written)

    def _writable_ledger(self) -> Ledger:
        """The ledger, proven writable before anything else: a delivery it cannot record must not start."""
        ledger = ledger_at(self.ledger_url, self.ledger_conn_id)
        try:
            ledger.check_writable()
        except OSError as error:
            raise AirflowFailException(
                f"the delivery ledger at {self.ledger_url} cannot be written ({error}), so no delivery could be "
                "recorded and nothing was sent. Point ledger_url at a location every delivery worker can write."
            ) from None
        return ledger

    def _error_scope(self, group: tuple[str, ...]) -> dict:
        """Whose error a failure is: this delivery as configured (not the table the connection resolves it to,
        so a fix made in the connection clears it), for its event-type group (empty: every type)."""
        if self.postback_url:
            where = postback_url_without_query(self.postback_url)
        else:
            where = f"{self.database or '(connection default)'}.{self.table}"
        return {"destination": f"{self.mode} to {where} via {self.td_conn_id}", "event_types": group}

    def _settings_error(self, ledger: Ledger, group: tuple[str, ...], message: str) -> AirflowFailException:
        """A wrong setting: kept as the ledger's last error of this delivery for the lag sensor's message, and
        failed without retries, since only a fix can make it pass."""
        ledger.record_error(message, **self._error_scope(group))
        return AirflowFailException(message)

    def _setting(self, ledger: Ledger, group: tuple[str, ...], coerce: Callable[[Any, str], Any], value: Any,
                 name: str) -> Any:
        """A templated value read the one way (`coerce`); one that cannot be read is a setting to fix."""
        try:
            return coerce(value, name)
        except ValueError as error:
            raise self._settings_error(ledger, group, str(error)) from None

    def _sink(self, ledger: Ledger, group: tuple[str, ...]) -> Sink:
        """The sink, built before any listing: a wrong mode, name, URL or connection fails in a second."""
        if self.mode not in MODES:
            raise self._settings_error(ledger, group, f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        try:
            return TreasureDataHook(td_conn_id=self.td_conn_id).get_sink(
                self.mode,
                database=self.database,
                table=self.table,
                postback_url=self.postback_url,
                create_table=self.create_table,
            )
        except (AirflowNotFoundException, TDError, ValueError) as error:
            raise self._settings_error(ledger, group, str(error)) from None

    def _staging(self, ledger: Ledger, group: tuple[str, ...]) -> StagingArea:
        """The staging area; an unknown URL scheme or storage connection is a setting to fix."""
        try:
            return CurrentsExportHook(self.staging_url, self.staging_conn_id).staging
        except (AirflowNotFoundException, ValueError) as error:
            raise self._settings_error(ledger, group, f"staging {self.staging_url}: {error}") from None

    def _select(
        self, context: Context, staging: StagingArea, ledger: Ledger, event_filter: EventFilter, replay: bool
    ) -> list[StagedFile]:
        """The files to deliver: the explicit `files`, or the listing's pending ones; never one not yet due."""
        now = pendulum.now("UTC")
        if self.files:
            return _due([StagedFile.from_dict(item) for item in self.files], now)
        until = _as_time(self.until) or context.get("data_interval_end") or now
        try:
            listing = staging.list(event_filter.selector)
        except StagingNotFoundError as error:
            raise self._settings_error(
                ledger, event_filter.event_types,
                f"{error}: check staging_url, and the bucket and prefix of the Currents integration in Braze",
            ) from None
        since = _as_time(self.since)
        if replay:
            return _due(listing.select(event_filter.selector, since=since, until=until), now)
        files = pending_files(listing, ledger.states(), event_types=event_filter.selector, until=until, now=now)
        return [staged for staged in files if since is None or staged.queue_hour >= since]


def _due(files: list[StagedFile], now: pendulum.DateTime) -> list[StagedFile]:
    """`files` without those queued after `now` (logged): they are delivered when their hour comes."""
    not_due = [staged for staged in files if staged.queue_hour > now]
    if not_due:
        log_not_due(not_due, now)
    return [staged for staged in files if staged.queue_hour <= now]


def _unix(value: Any) -> int | None:
    moment = _as_time(value)
    return moment.int_timestamp if moment else None


def list_pending_groups(
    staging_url: str,
    ledger_url: str,
    *,
    event_types: Sequence[str] | None = None,
    until: Any = None,
    staging_conn_id: str | None = None,
    ledger_conn_id: str | None = None,
    target_group_bytes: int = 256 << 20,
) -> list[list[str]]:
    """The event-type groups with pending files, for `.partial(...).expand(event_types=...)`."""
    staging = CurrentsExportHook(staging_url, staging_conn_id).staging
    ledger = ledger_at(ledger_url, ledger_conn_id)
    selector = EventFilter(event_types=tuple(event_types or ())).selector
    files = pending_files(staging.list(selector), ledger.states(), event_types=selector, until=_as_time(until))
    return plan_event_type_groups(files, target_group_bytes)
