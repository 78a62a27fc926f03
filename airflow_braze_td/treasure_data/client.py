"""The one HTTP client for every Treasure Data endpoint family.

It owns one `requests.Session` (kept by the caller, reused for every call), sends explicit
connect/read timeouts, follows no redirects (a redirect would carry the key to another host), turns
status codes into retryable attempts or typed errors, and scrubs its secrets out of any text it raises.

A postback sends thousands of requests to one URL with the same headers, and `Session.request` would
prepare each from scratch (merging headers, reading `~/.netrc`, looking up proxies in the environment):
half of the client's CPU per request. So a request is prepared once per (method, URL, headers) and
each send copies it with a new body, and the environment's proxy and TLS settings are merged once per
origin. What is sent is what `Session.request` would send (Treasure Data sets no cookies to merge later).

Several requests are in flight at once to hide Treasure Data's answer time, so the session's pool keeps a
connection per request in flight (`reserve_connections`), and a 429 slows the whole task, not only the
request that got it: every request waits out the pause the server asked for (or the first backoff step).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from airflow_braze_td import __version__
from airflow_braze_td.treasure_data.endpoints import Endpoints
from airflow_braze_td.treasure_data.errors import TDConflictError, TDProtocolError, error_for_status
from airflow_braze_td.treasure_data.retry import RetryableError, RetryPolicy, parse_retry_after
from airflow_braze_td.treasure_data.rows import validate_name

log = logging.getLogger(__name__)

USER_AGENT = f"airflow-provider-braze-td/{__version__}"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
_DETAIL_CHARS = 300
_PREPARED_CACHE_MAX = 64


def _pool_size(adapter: HTTPAdapter) -> int:
    """Connections the adapter keeps per host (HttpHook's keep-alive adapter does not update `_pool_maxsize`)."""
    return adapter.poolmanager.connection_pool_kw.get("maxsize", 1)


@dataclass(frozen=True)
class Reply:
    """A 2xx response and how many attempts it took."""

    response: requests.Response
    attempts: int

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def retries(self) -> int:
        return self.attempts - 1

    def json(self) -> Any:
        try:
            return orjson.loads(self.response.content) if self.response.content else {}
        except orjson.JSONDecodeError as exc:
            raise TDProtocolError(
                f"Treasure Data answered HTTP {self.status} with a body that is not JSON", status=self.status
            ) from exc


def request_name(method: str, url: str) -> str:
    """"METHOD /path" for logs and errors: the query string is dropped, whatever it holds."""
    return f"{method} {urlsplit(url).path or '/'}"


class TDClient:
    """Requests to Treasure Data with `Authorization: TD1 <key>`, bounded retries and typed errors."""

    def __init__(
        self,
        session: requests.Session,
        endpoints: Endpoints,
        api_key: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Treasure Data API key or write key is required (the connection password)")
        self.session = session
        self.endpoints = endpoints
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._api_key = api_key
        self._secrets: set[str] = {api_key}
        self._prepared: dict[tuple, requests.PreparedRequest] = {}
        self._send_settings: dict[str, dict[str, Any]] = {}
        self._paused_until = 0.0
        self._pause_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TDClient({self.endpoints.describe()})"

    def add_secret(self, secret: str) -> None:
        """Register another secret (a postback write key) to scrub from error texts."""
        if secret:
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        """`text` with every registered secret replaced by `***`."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def write_key_headers(self, write_key: str | None = None) -> dict[str, str | None]:
        """Headers for the postback API: the write key (default: the client's key) instead of `Authorization`."""
        if write_key:
            self.add_secret(write_key)
        return {"Authorization": None, "X-TD-Write-Key": write_key or self._api_key}

    def reserve_connections(self, count: int) -> None:
        """Keep up to `count` connections per host in the session's pool, one per request in flight, so none
        is opened and dropped per request (requests' default pool keeps 10)."""
        for prefix in ("https://", "http://"):
            adapter = self.session.get_adapter(prefix)
            if isinstance(adapter, HTTPAdapter) and _pool_size(adapter) < count:
                adapter.poolmanager.clear()
                adapter.init_poolmanager(adapter._pool_connections, count, block=adapter._pool_block)

    def _wait_out_pause(self) -> None:
        """Hold a request while the server's last 429 pause lasts."""
        remaining = self._paused_until - time.monotonic()
        if remaining > 0:
            self.retry.sleep(remaining)

    def _pause(self, retry_after: float | None) -> None:
        """Treasure Data said 429: every request of this client waits `retry_after` (else a first backoff)."""
        seconds = retry_after if retry_after is not None else self.retry.backoff(1)
        with self._pause_lock:
            until = time.monotonic() + seconds
            if until > self._paused_until:
                self._paused_until = until
                log.warning("Treasure Data asked to slow down (HTTP 429): every request waits %.2f s", seconds)

    def url(self, family: str, path: str) -> str:
        """Absolute URL of `path` on one endpoint family: api, imports, postback or ingest."""
        return getattr(self.endpoints, family) + path

    def _detail(self, response: requests.Response) -> str:
        """The server's own explanation, from a JSON `message`/`error` or the start of the body."""
        raw = response.content[: 64 * 1024]
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                error = ": ".join(str(error[k]) for k in ("name", "description", "message") if error.get(k))
            parts = [str(p) for p in (error, body.get("message")) if p]
            text = "; ".join(dict.fromkeys(parts))
        else:
            text = raw.decode("utf-8", "replace").strip()
        return self.scrub(text[:_DETAIL_CHARS])

    def send_once(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str | None] | None = None,
        target: str = "",
    ) -> requests.Response:
        """One attempt. 2xx returns; 429, 5xx and network failures raise `RetryableError`; others typed errors.

        `headers` override the defaults; a None value drops one (a postback sends its write key instead
        of `Authorization`). `target` ("database 'x'") makes error messages specific.
        """
        self._wait_out_pause()
        try:
            response = self.session.send(
                self._prepare(method, url, body, headers),
                timeout=self.timeout,
                allow_redirects=False,
                **self._settings_for(url),
            )
        except requests.Timeout as exc:
            raise RetryableError(f"timed out ({type(exc).__name__})") from None
        except requests.exceptions.SSLError as exc:
            raise TDProtocolError(
                f"TLS verification failed for {request_name(method, url)}: {self.scrub(str(exc))}. "
                "Check the region or host URL; verification is never switched off."
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise RetryableError(f"connection failed: {self.scrub(str(exc))}") from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        detail = self._detail(response)
        if status == 429 or 500 <= status < 600:
            retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
            if status == 429:
                self._pause(retry_after)
            reason = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
            raise RetryableError(reason, retry_after=retry_after, status=status)
        raise error_for_status(
            status, request_name(method, url), detail, where=self.endpoints.describe(), target=target
        )

    def _prepare(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str | None] | None
    ) -> requests.PreparedRequest:
        """The request prepared by the session once per (method, URL, headers), with `body` put in a copy."""
        cache_key = (method, url, tuple(headers.items()) if headers else ())
        template = self._prepared.get(cache_key)
        if template is None:
            merged: dict[str, str | None] = {"Authorization": f"TD1 {self._api_key}", "User-Agent": USER_AGENT}
            if headers:
                merged.update(headers)
            template = self.session.prepare_request(requests.Request(method, url, headers=merged))
            if len(self._prepared) >= _PREPARED_CACHE_MAX:
                self._prepared.clear()
            self._prepared[cache_key] = template
        prepared = template.copy()
        prepared.prepare_body(body, None)
        return prepared

    def _settings_for(self, url: str) -> dict[str, Any]:
        """Proxies, TLS verification and client certificate for `url`'s origin, from the session and the
        environment, as `Session.request` would merge them."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        settings = self._send_settings.get(origin)
        if settings is None:
            settings = self._send_settings[origin] = self.session.merge_environment_settings(
                url, {}, None, None, None
            )
        return settings

    def run(self, attempt: Callable[[], Any], *, what: str) -> tuple[Any, int]:
        """Run a multi-step attempt (see the ingest sink) under the one retry policy."""
        return self.retry.run(attempt, what=what)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str | None] | None = None,
        target: str = "",
    ) -> Reply:
        """`send_once` under the retry policy."""
        response, attempts = self.retry.run(
            lambda: self.send_once(method, url, body=body, headers=headers, target=target),
            what=request_name(method, url),
        )
        return Reply(response, attempts)

    # Control plane (treasure-data.md §4). Creating needs a master key; a write-only key gets 403.

    def create_database(self, database: str) -> bool:
        """Create `database`; True if created, False if it already existed (409)."""
        validate_name(database, "database")
        try:
            self.request("POST", self.url("api", f"/v3/database/create/{database}"), target=f"database {database!r}")
        except TDConflictError:
            return False
        return True

    def create_table(self, database: str, table: str) -> bool:
        """Create log table `table`; True if created, False if it already existed (409)."""
        validate_name(database, "database")
        validate_name(table, "table")
        try:
            self.request(
                "POST",
                self.url("api", f"/v3/table/create/{database}/{table}/log"),
                target=f"database {database!r}",
            )
        except TDConflictError:
            return False
        return True

    def ensure_table(self, database: str, table: str) -> None:
        """Create the database and the table if either is missing."""
        self.create_database(database)
        self.create_table(database, table)

    def list_databases(self) -> list[dict]:
        """Every database the key can see."""
        return self.request("GET", self.url("api", "/v3/database/list")).json().get("databases", [])

    def list_tables(self, database: str) -> list[dict]:
        """Tables of `database`."""
        validate_name(database, "database")
        reply = self.request("GET", self.url("api", f"/v3/table/list/{database}"), target=f"database {database!r}")
        return reply.json().get("tables", [])

    def show_table(self, database: str, table: str) -> dict:
        """One table's metadata (its `count` lags streamed rows)."""
        validate_name(database, "database")
        validate_name(table, "table")
        reply = self.request(
            "GET",
            self.url("api", f"/v3/table/show/{database}/{table}"),
            target=f"table {database}.{table}",
        )
        return reply.json()
