"""The three ways to put events into Treasure Data, behind one interface.

- `postback`: what Braze's own TD export does: each batch is one `{"events": [...]}` row.
- `import`: flat rows through the Import API, idempotent (the batch key is the upload's unique id).
- `ingest`: flat rows through the Data Ingestion API (records.in), partial success per row.

Every sink batches with the one `Batcher`, retries with the one `RetryPolicy` (inside `TDClient`) and
handles the status codes of treasure-data.md §5 the same way: 413 splits the batch and resends the
halves; 400/422 bisects down to the events the server refuses, which come back as `Rejection`s while
the rest is delivered; 401/403 raise `TDAuthError` at once; 404 creates the table when asked to.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from isal import igzip, isal_zlib
import msgpack
import orjson
import requests

from airflow_braze_td.delivery.batching import Batch, Batcher, BatchLimits
from airflow_braze_td.delivery.sink import EventEncodeError, Rejection, SendResult
from airflow_braze_td.identities import content_key, split_key
from airflow_braze_td.treasure_data.client import TDClient, request_name
from airflow_braze_td.treasure_data.endpoints import POSTBACK_PATH, PostbackURL
from airflow_braze_td.treasure_data.errors import (
    TDBadRequestError,
    TDError,
    TDIntegrityError,
    TDNotFoundError,
    TDPayloadTooLargeError,
    TDProtocolError,
    TDTransientError,
)
from airflow_braze_td.treasure_data.retry import RetryableError
from airflow_braze_td.treasure_data.rows import TableRouter, flatten_columns, flatten_event, validate_name

if TYPE_CHECKING:
    from airflow_braze_td.currents.events import EventColumns

log = logging.getLogger(__name__)

_EVENTS_OPEN, _EVENTS_CLOSE = b'{"events":[', b"]}"
_ENVELOPE_BYTES = len(_EVENTS_OPEN) + len(_EVENTS_CLOSE)
POSTBACK_MAX_BODY = 1_048_064  # records.in postback answers 413 above this; stay strictly below it
INGEST_MAX_EVENTS, INGEST_MAX_BODY, INGEST_MAX_ROW = 500, 5_000_000, 1_000_000
_INGEST_MEDIA_TYPE = "application/vnd.treasuredata.v1+json"


class _Remainder(Exception):
    """Part of a request was delivered; `error` applies to the events left over."""

    def __init__(self, error: TDError, items: list[bytes], events: list[dict]) -> None:
        super().__init__(str(error))
        self.error, self.items, self.events = error, items, events


def _short_reason(error: TDError) -> str:
    return f"HTTP {error.status}: {error.detail}" if error.detail else f"HTTP {error.status}"


class TDSink(ABC):
    """One Treasure Data delivery mode, a `delivery.sink.Sink`: `encode` an event to `(route, item)`, batch the
    items, `send` each batch.

    `send` keeps the accounting exact for the non-idempotent sinks: once part of a batch is in, events
    the service then keeps failing on come back as rejections instead of an exception, because sending
    the batch again would duplicate what landed. `TDTransientError` is raised only when nothing of the
    batch was delivered, or by the idempotent sink (import), whose batch can always be sent again.
    Auth and not-found errors are raised at once: no later batch can succeed either. `send` may run on
    several threads at once (`requests_in_flight`); the client's session and the table creation allow it.
    """

    mode: ClassVar[str]
    idempotent: ClassVar[bool] = False
    # Requests a delivery keeps in flight by default: enough that TD's answer time over the internet (about
    # 50 ms) costs under a fifth of the throughput; where a resend would duplicate events, that many batches
    # is also the most a killed worker leaves delivered and unrecorded.
    requests_in_flight: ClassVar[int] = 1
    envelope_bytes: ClassVar[int] = 0
    separator_bytes: ClassVar[int] = 0
    hard_limits: ClassVar[BatchLimits]
    default_limits: ClassVar[BatchLimits]
    # Where batches go: `client.url(endpoint_family, endpoint_path)` with the database filled in, and the
    # headers every request of this sink carries.
    endpoint_family: ClassVar[str]
    endpoint_path: ClassVar[str]
    request_headers: ClassVar[dict[str, str]]

    def __init__(
        self,
        client: TDClient,
        *,
        database: str,
        table: str,
        create_table: bool = False,
        limits: BatchLimits | None = None,
    ) -> None:
        self.client = client
        self.database = validate_name(database, "database")
        self.router = TableRouter(table)
        self.create_table = create_table
        self.limits = self._check_limits(limits or self.default_limits)
        self._ensured: set[str] = set()
        self._creating = threading.Lock()
        self._base = client.url(self.endpoint_family, self.endpoint_path.format(database=self.database))
        self._headers: dict[str, str | None] = dict(self.request_headers)

    def _check_limits(self, limits: BatchLimits) -> BatchLimits:
        hard = self.hard_limits
        if (
            limits.max_events > hard.max_events
            or limits.max_bytes > hard.max_bytes
            or limits.max_item_bytes > hard.max_item_bytes
        ):
            raise ValueError(f"{self.mode} limits {limits} exceed what the endpoint accepts ({hard})")
        return limits

    def __repr__(self) -> str:
        return f"{type(self).__name__}(database={self.database!r}, table={self.router.template!r}, {self.client!r})"

    @property
    def destination(self) -> str:
        """Where this sink's batches land, resolved (endpoint, database, table or table template), without any
        key: the one value a delivery's fingerprint and batch identities take the destination from."""
        return f"{self.mode} {self._base}{self.router.template}"

    def reserve_connections(self, requests_in_flight: int) -> None:
        """One kept connection per request a delivery keeps in flight."""
        self.client.reserve_connections(requests_in_flight)

    def batcher(self) -> Batcher:
        """A batcher sized for this sink's requests."""
        return Batcher(self.limits, self.envelope_bytes, self.separator_bytes)

    @abstractmethod
    def encode(self, event: dict) -> tuple[str, bytes]:
        """`(table, item bytes)` for one normalised event; raises `EventEncodeError`."""

    @abstractmethod
    def encode_columns(self, block: EventColumns, rows: list[int]) -> tuple[str, list[bytes]]:
        """`(table, items)` for the events at `rows` of `block`, equal to `encode` of each; raises
        `EventEncodeError`."""

    @abstractmethod
    def _post(self, route: str, items: list[bytes], events: list[dict], key: str, result: SendResult) -> None:
        """Deliver these items in one request (retried by the policy); raise a `TDError` if refused."""

    def _request(
        self, result: SendResult, route: str, method: str, url: str, body: bytes, headers: dict[str, str | None]
    ) -> requests.Response:
        """One request under the retry policy, counted in `result`."""
        start = result.requests
        target = f"table {self.database}.{route}"

        def attempt() -> requests.Response:
            result.requests += 1
            return self.client.send_once(method, url, body=body, headers=headers, target=target)

        try:
            response, _ = self.client.run(attempt, what=request_name(method, url))
        finally:
            result.retries += max(0, result.requests - start - 1)
        return response

    def _post_creating(self, route: str, items: list[bytes], events: list[dict], key: str, result: SendResult) -> None:
        try:
            self._post(route, items, events, key, result)
        except TDNotFoundError:
            if not self.create_table:
                raise
            with self._creating:  # one creation, however many requests in flight met the 404
                if route not in self._ensured:
                    log.info("Creating Treasure Data table %s.%s (create_table=True)", self.database, route)
                    self.client.ensure_table(self.database, route)
                    self._ensured.add(route)
            self._post(route, items, events, key, result)

    def send(self, batch: Batch) -> SendResult:
        """Deliver one batch: split on 413, isolate bad events on 400/422, retry the transient."""
        result = SendResult()
        work = [(batch.items, batch.events, batch.key or content_key(batch.route, batch.items))]
        while work:
            items, events, key = work.pop()
            try:
                self._post_creating(batch.route, items, events, key, result)
                continue
            except _Remainder as rest:
                error, items, events = rest.error, rest.items, rest.events
            except (TDPayloadTooLargeError, TDBadRequestError, TDTransientError) as exc:
                error = exc
            if isinstance(error, TDTransientError):
                if self.idempotent or not (result.accepted or result.rejected):
                    raise error
                reason = f"not delivered: {error}"
                undelivered = [events, *(pending for _, pending, _ in work)]
                result.rejected.extend(Rejection(event, reason) for part in undelivered for event in part)
                break
            if len(items) == 1:
                log.warning("Treasure Data refused one %s event (%s); quarantining it", self.mode, _short_reason(error))
                result.rejected.append(Rejection(events[0], _short_reason(error)))
                continue
            log.info(
                "Treasure Data answered HTTP %s for %d %s events to %s; splitting",
                error.status,
                len(items),
                self.mode,
                batch.route,
            )
            mid = len(items) // 2
            work.append((items[mid:], events[mid:], split_key(key, 1)))
            work.append((items[:mid], events[:mid], split_key(key, 0)))
        return result


class PostbackSink(TDSink):
    """Braze's own format: each batch is posted as `{"events": [...]}` and stored as one row.

    Items are the events serialised with sorted keys, so what TD stores is byte for byte what Braze's
    export would post. The URL is either built from the endpoints or the one copied from the TD console;
    a `td_write_key` in its query is moved into the `X-TD-Write-Key` header so no URL holds the key.
    """

    mode = "postback"
    requests_in_flight = 16  # 100-event batches: a kill may resend up to 1,600 events
    envelope_bytes = _ENVELOPE_BYTES
    separator_bytes = 1
    hard_limits = BatchLimits(1_000_000, POSTBACK_MAX_BODY - 1, POSTBACK_MAX_BODY - 1 - _ENVELOPE_BYTES)
    default_limits = BatchLimits(100, POSTBACK_MAX_BODY - 1, POSTBACK_MAX_BODY - 1 - _ENVELOPE_BYTES)
    endpoint_family = "postback"
    endpoint_path = POSTBACK_PATH + "/{database}/"
    request_headers = {"Content-Type": "application/json"}

    def __init__(
        self,
        client: TDClient,
        *,
        database: str | None = None,
        table: str | None = None,
        postback_url: str | None = None,
        create_table: bool = False,
        limits: BatchLimits | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        url = PostbackURL.parse(postback_url, allow_insecure_http=allow_insecure_http) if postback_url else None
        self._query = url.query if url else ""
        if url:
            if (database or url.database, table or url.table) != (url.database, url.table):
                raise ValueError(
                    f"the postback URL is for {url.database}.{url.table}, not {database or url.database}."
                    f"{table or url.table}; give the URL or the database and table"
                )
            database, table = url.database, url.table
        if not database or not table:
            raise ValueError("the postback sink needs a database and a table, or a postback URL")
        super().__init__(client, database=database, table=table, create_table=create_table, limits=limits)
        if url:
            self._base = f"{url.base}/{self.database}/"
        self._headers.update(client.write_key_headers(url.write_key if url else None))

    def encode(self, event: dict) -> tuple[str, bytes]:
        try:
            return self.router(event["event_type"]), orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        except (KeyError, TypeError) as exc:
            raise EventEncodeError(f"cannot encode event {event.get('id')!r} for postback: {exc}") from exc

    def encode_columns(self, block: EventColumns, rows: list[int]) -> tuple[str, list[bytes]]:
        dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
        try:
            return self.router(block.event_type), [dumps(event, option=sort_keys)
                                                   for event in block.take(rows).events()]
        except TypeError as exc:
            raise EventEncodeError(f"cannot encode a {block.event_type} event for postback: {exc}") from exc

    def _post(self, route: str, items: list[bytes], events: list[dict], key: str, result: SendResult) -> None:
        body = _EVENTS_OPEN + b",".join(items) + _EVENTS_CLOSE
        self._request(result, route, "POST", self._base + route + self._query, body, self._headers)
        result.accepted += len(items)


class ImportSink(TDSink):
    """Flat rows through the Import API; the batch key is the unique id, so a resend is dropped by TD."""

    mode = "import"
    idempotent = True
    # One request being answered while the next is sent: at 10,000 rows a request and 300 ms an answer that
    # carries ~65,000 rows/s, more than one core produces; each one in flight holds its batch in memory.
    requests_in_flight = 4  # idempotent: nothing is resent twice, whatever is in flight
    hard_limits = BatchLimits(100_000, 256 * 1024 * 1024, 256 * 1024 * 1024)
    default_limits = BatchLimits(10_000, 32 * 1024 * 1024, 32 * 1024 * 1024)
    endpoint_family = "imports"
    endpoint_path = "/v3/table/import_with_id/{database}/"
    request_headers = {"Content-Type": "application/octet-stream"}

    def __init__(self, client: TDClient, *, gzip_level: int = isal_zlib.ISAL_DEFAULT_COMPRESSION, **settings: Any) -> None:
        """`gzip_level` is ISA-L's, 0 to 3: its default (2) compresses Braze's rows about as small as stdlib gzip's
        level 6 (within 6 %) at about ten times its speed (docs/measurements.md)."""
        if gzip_level not in range(isal_zlib.ISAL_BEST_SPEED, isal_zlib.ISAL_BEST_COMPRESSION + 1):
            raise ValueError(f"gzip_level is ISA-L's, {isal_zlib.ISAL_BEST_SPEED} to {isal_zlib.ISAL_BEST_COMPRESSION}, "
                             f"not {gzip_level!r}")
        super().__init__(client, **settings)
        self.gzip_level = gzip_level

    def encode(self, event: dict) -> tuple[str, bytes]:
        try:
            return self.router(event["event_type"]), msgpack.packb(flatten_event(event))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise EventEncodeError(f"cannot encode event {event.get('id')!r} for import: {exc}") from exc

    def encode_columns(self, block: EventColumns, rows: list[int]) -> tuple[str, list[bytes]]:
        pack = msgpack.Packer().pack  # one packer for the block: `msgpack.packb` makes one per row
        try:
            return self.router(block.event_type), [pack(row) for row in flatten_columns(block.take(rows))]
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventEncodeError(f"cannot encode a {block.event_type} event for import: {exc}") from exc

    def _post(self, route: str, items: list[bytes], events: list[dict], key: str, result: SendResult) -> None:
        body = igzip.compress(b"".join(items), compresslevel=self.gzip_level, mtime=0)
        url = f"{self._base}{route}/{key}/msgpack.gz"
        response = self._request(result, route, "PUT", url, body, self._headers)
        try:
            reply = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            reply = {}
        md5_hex = reply.get("md5_hex") if isinstance(reply, dict) else None
        if md5_hex and md5_hex != hashlib.md5(body).hexdigest():
            raise TDIntegrityError(
                f"Treasure Data stored import {key} into {self.database}.{route} with md5 {md5_hex}, which is "
                "not the md5 of the body sent: the upload was corrupted on the way"
            )
        result.accepted += len(items)


class IngestSink(TDSink):
    """Flat rows through records.in; on 206 only the failed rows marked retryable are sent again."""

    mode = "ingest"
    requests_in_flight = 4  # 500-event batches: a kill may resend up to 2,000 events
    envelope_bytes = _ENVELOPE_BYTES
    separator_bytes = 1
    hard_limits = BatchLimits(INGEST_MAX_EVENTS, INGEST_MAX_BODY, INGEST_MAX_ROW)
    default_limits = hard_limits
    endpoint_family = "ingest"
    endpoint_path = "/{database}/"
    request_headers = {"Content-Type": _INGEST_MEDIA_TYPE, "Accept": _INGEST_MEDIA_TYPE}

    def encode(self, event: dict) -> tuple[str, bytes]:
        try:
            return self.router(event["event_type"]), orjson.dumps(flatten_event(event))
        except (KeyError, TypeError) as exc:
            raise EventEncodeError(f"cannot encode event {event.get('id')!r} for ingest: {exc}") from exc

    def encode_columns(self, block: EventColumns, rows: list[int]) -> tuple[str, list[bytes]]:
        dumps = orjson.dumps
        try:
            return self.router(block.event_type), [dumps(row) for row in flatten_columns(block.take(rows))]
        except TypeError as exc:
            raise EventEncodeError(f"cannot encode a {block.event_type} event for ingest: {exc}") from exc

    def _post(self, route: str, items: list[bytes], events: list[dict], key: str, result: SendResult) -> None:
        url = self._base + route
        target = f"table {self.database}.{route}"
        pending = list(range(len(items)))
        start = result.requests

        def attempt() -> None:
            nonlocal pending
            result.requests += 1
            body = _EVENTS_OPEN + b",".join([items[i] for i in pending]) + _EVENTS_CLOSE
            response = self.client.send_once("POST", url, body=body, headers=self._headers, target=target)
            if response.status_code == 200:
                result.accepted += len(pending)
                pending = []
                return
            receipts = _receipts(response, len(pending))
            retry, last_reason = [], ""
            for index, receipt in zip(pending, receipts, strict=True):
                if not isinstance(receipt, dict) or receipt.get("success") is not False:
                    result.accepted += 1
                    continue
                error = receipt.get("error") if isinstance(receipt.get("error"), dict) else {}
                reason = self.client.scrub(f"{error.get('name', 'error')}: {error.get('description', '')}")
                if error.get("retryable"):
                    retry.append(index)
                    last_reason = reason
                else:
                    result.rejected.append(Rejection(events[index], f"HTTP 206: {reason}"))
            pending = retry
            if pending:
                raise RetryableError(f"HTTP 206: {len(pending)} rows failed, retryable ({last_reason})", status=206)

        try:
            self.client.run(attempt, what=request_name("POST", url))
        except (TDPayloadTooLargeError, TDBadRequestError, TDTransientError) as exc:
            if len(pending) == len(items):
                raise
            raise _Remainder(exc, [items[i] for i in pending], [events[i] for i in pending]) from exc
        finally:
            result.retries += max(0, result.requests - start - 1)


def _receipts(response: requests.Response, expected: int) -> list[Any]:
    """The per-row receipts of a records.in 206, checked against the number of rows sent."""
    try:
        receipts = orjson.loads(response.content).get("receipts")
    except (orjson.JSONDecodeError, AttributeError):
        receipts = None
    if response.status_code != 206 or not isinstance(receipts, list) or len(receipts) != expected:
        raise TDProtocolError(
            f"records.in answered HTTP {response.status_code} without one receipt per row sent ({expected})",
            status=response.status_code,
        )
    return receipts


# The sink class of each mode.
SINK_CLASSES: dict[str, type[TDSink]] = {"postback": PostbackSink, "import": ImportSink, "ingest": IngestSink}
MODES = tuple(SINK_CLASSES)


def make_sink(
    mode: str,
    client: TDClient,
    *,
    database: str | None = None,
    table: str | None = None,
    postback_url: str | None = None,
    create_table: bool = False,
    limits: BatchLimits | None = None,
    **options: Any,
) -> TDSink:
    """The sink for `mode` ("postback", "import" or "ingest"); `options` go to that sink's constructor."""
    if mode not in SINK_CLASSES:
        raise ValueError(f"unknown delivery mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "postback":
        return PostbackSink(
            client,
            database=database,
            table=table,
            postback_url=postback_url,
            create_table=create_table,
            limits=limits,
            **options,
        )
    if postback_url:
        raise ValueError(f"a postback URL only applies to the postback mode, not {mode!r}")
    if not database or not table:
        raise ValueError(f"the {mode} sink needs a database and a table (or a table template with {{event_type}})")
    return SINK_CLASSES[mode](
        client, database=database, table=table, create_table=create_table, limits=limits, **options
    )
