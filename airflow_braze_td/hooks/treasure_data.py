"""`TreasureDataHook`: the Airflow connection in front of the Airflow-free Treasure Data client.

The connection's password is the API key (or write key), extras choose the region and default
database, and a host, when set, is one base URL for every endpoint family. The hook keeps one
`requests` session for its whole life (HttpHook builds a new one per call), sends our own extras
nowhere (HttpHook would send them as HTTP headers), and masks every secret it reads.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import requests
from airflow.providers.common.compat.sdk import AirflowNotFoundException, Connection, mask_secret
from airflow.providers.http.hooks.http import HttpHook

from airflow_braze_td.coerce import FALSE_WORDS, NONE_WORDS, TRUE_WORDS, as_bool
from airflow_braze_td.treasure_data.client import DEFAULT_TIMEOUT, TDClient
from airflow_braze_td.get_provider_info import TREASURE_DATA_CONNECTION as CONNECTION_TYPE_INFO
from airflow_braze_td.treasure_data.endpoints import (
    DEFAULT_REGION,
    Endpoints,
    postback_write_key,
    require_postback_write_key,
)
from airflow_braze_td.treasure_data.errors import TDError
from airflow_braze_td.treasure_data.retry import RetryPolicy
from airflow_braze_td.treasure_data.sinks import TDSink, make_sink

CONN_TYPE = "treasure_data"
_EXTRA_PREFIX = f"extra__{CONN_TYPE}__"
OWN_EXTRAS = frozenset({"region", "database", "postback_url", "allow_insecure_http", "retry"})
_TEST_RETRY = RetryPolicy(max_attempts=2, max_total_seconds=15.0)
_RETRY_SETTINGS = {"max_attempts": int, "max_total_seconds": float, "initial_wait": float, "max_wait": float}


def mask_write_key(url: str) -> None:
    """Register the write key of a console postback URL for masking."""
    write_key = postback_write_key(url)
    if write_key:
        mask_secret(write_key)


def _tls_setting(verify: object) -> bool | str | None:
    """requests' `verify` as True or a CA bundle path; None when the value would turn verification off.

    requests skips verification for any falsy value (`0`, `""`), not only `False`, and reads any string as
    a bundle path, so "false" must not pass as a path (and "true" is taken for what it says).
    """
    if verify is True or (isinstance(verify, int) and verify == 1):
        return True
    if isinstance(verify, str):
        word = verify.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word not in FALSE_WORDS | NONE_WORDS:
            return verify
    return None


class TreasureDataHook(HttpHook):
    """Treasure Data connection: `get_client()` for the control plane, `get_sink(mode)` to deliver events.

    :param td_conn_id: connection id (type `treasure_data`).
    :param timeout: (connect, read) seconds for every request.
    :param retry: the retry policy; the default is td-client-java's (0.5 s doubling to 60 s, 7 tries).
    """

    conn_name_attr = "td_conn_id"
    default_conn_name = "treasure_data_default"
    conn_type = CONN_TYPE
    hook_name = "Treasure Data"

    def __init__(
        self,
        td_conn_id: str = default_conn_name,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(method="POST", http_conn_id=td_conn_id, **kwargs)
        self.td_conn_id = td_conn_id
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._connection: Connection | None = None
        self._session: requests.Session | None = None
        self._client: TDClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(td_conn_id={self.td_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form layout for the connection UI (also declared in provider info)."""
        return {key.replace("-", "_"): value for key, value in CONNECTION_TYPE_INFO["ui-field-behaviour"].items()}

    # --- connection ---------------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """The connection, read once (see `_read_connection`)."""
        return self._read_connection()

    def _read_connection(self) -> Connection:
        """Read the connection once and register its secrets for masking before anything can log them."""
        if self._connection is None:
            try:
                connection = self.get_connection(self.td_conn_id)
            except AirflowNotFoundException:
                raise AirflowNotFoundException(
                    f"Treasure Data connection {self.td_conn_id!r} is not defined. Create it in Admin > Connections "
                    "(type `treasure_data`, the API key or write key as its password), or set the environment "
                    f"variable AIRFLOW_CONN_{self.td_conn_id.upper()} to its JSON, e.g. "
                    '{"conn_type": "treasure_data", "password": "<account id>/<40 hex>", "extra": {"region": "us01"}}'
                ) from None
            if connection.password:
                mask_secret(connection.password)
            postback_url = self._extra_of(connection, "postback_url")
            if postback_url:
                mask_write_key(str(postback_url))
            self._connection = connection
        return self._connection

    @staticmethod
    def _extra_of(connection: Connection, name: str, default: Any = None) -> Any:
        extra = connection.extra_dejson
        value = extra.get(name, extra.get(_EXTRA_PREFIX + name))
        return default if value in (None, "") else value

    def _extra(self, name: str, default: Any = None) -> Any:
        return self._extra_of(self.connection, name, default)

    @property
    def region(self) -> str:
        return str(self._extra("region", DEFAULT_REGION))

    @property
    def database(self) -> str | None:
        """The connection's default database, if it names one."""
        return self._extra("database")

    def _allow_insecure_http(self) -> bool:
        setting = f"connection {self.td_conn_id!r}: extra `allow_insecure_http`"
        return as_bool(self._extra("allow_insecure_http", False), setting)

    def _host_override(self) -> str | None:
        connection = self.connection
        if not connection.host:
            return None
        host = connection.host if "://" in connection.host else f"{connection.schema or 'https'}://{connection.host}"
        return f"{host.rstrip('/')}:{connection.port}" if connection.port else host

    def get_endpoints(self) -> Endpoints:
        """Hosts of every endpoint family, from the region extra or the host override."""
        return Endpoints.for_region(
            self.region,
            host=self._host_override(),
            allow_insecure_http=self._allow_insecure_http(),
        )

    # --- the one session ----------------------------------------------------------------------

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """The hook's one `requests.Session`, built on first use and reused for every request."""
        if self._session is None:
            self._read_connection()
            self._session = super().get_conn(headers, extra_options)
        return self._session

    def _configure_session_from_auth(self, session: requests.Session, connection: Connection) -> requests.Session:
        """No session-wide auth: the client sends `TD1 <key>` per request, so a postback can send a write key."""
        session.auth = None
        return session

    def _configure_session_from_extra(
        self, session: requests.Session, connection: Connection, extra_options: dict[str, Any]
    ) -> requests.Session:
        """HttpHook's handling, minus our own extras (it would send them as headers) and with TLS checks kept on."""
        session = super()._configure_session_from_extra(session, connection, extra_options)
        for name in list(session.headers):
            if name.lower() in OWN_EXTRAS or name.lower().startswith(_EXTRA_PREFIX):
                del session.headers[name]
        verify = _tls_setting(session.verify)
        if verify is None:
            raise ValueError(
                f"connection {self.td_conn_id!r} turns TLS verification off (verify={session.verify!r}); it stays "
                "on for Treasure Data (point `verify` at a CA bundle instead)"
            )
        session.verify = verify
        return session

    # --- the client and the sinks -------------------------------------------------------------

    def get_client(self) -> TDClient:
        """The Treasure Data client on the hook's session (one per hook)."""
        if self._client is None:
            password = self.connection.password
            if not password:
                raise ValueError(
                    f"connection {self.td_conn_id!r} has no password: put the Treasure Data API key "
                    "(or the write key) in it"
                )
            self._client = TDClient(
                self.get_conn(), self.get_endpoints(), password, timeout=self._timeout(), retry=self._retry()
            )
        return self._client

    def _timeout(self) -> tuple[float, float]:
        """A `timeout` extra (seconds, or [connect, read]) overrides the hook's default."""
        value = self._extra("timeout")
        if value in (None, ""):
            return self.timeout
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return float(value[0]), float(value[1])
        return float(value), float(value)

    def _retry(self) -> RetryPolicy:
        """A `retry` extra (some of `max_attempts`, `max_total_seconds`, `initial_wait`, `max_wait`) overrides
        those settings of the hook's policy."""
        value = self._extra("retry")
        if value in (None, "", {}):
            return self.retry
        where = f"connection {self.td_conn_id!r}: extra `retry`"
        if not isinstance(value, dict) or not set(value) <= _RETRY_SETTINGS.keys():
            raise ValueError(f"{where} must be an object with some of {', '.join(_RETRY_SETTINGS)}, not {value!r}")
        try:
            return replace(self.retry, **{name: _RETRY_SETTINGS[name](setting) for name, setting in value.items()})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where} {value!r}: {error}") from None

    def get_sink(
        self,
        mode: str,
        *,
        database: str | None = None,
        table: str | None = None,
        postback_url: str | None = None,
        create_table: bool = False,
        **options: Any,
    ) -> TDSink:
        """A sink for `mode`; the database defaults to the connection's, the postback URL to its extra.

        A postback URL without its `td_write_key` is refused rather than sent with the connection's key:
        it is most likely a truncated paste, and a postback with a key for the wrong account is answered
        200 and then dropped by Treasure Data, so the loss would go unnoticed.
        """
        client = self.get_client()
        if mode == "postback":
            postback_url = postback_url or (None if table else self._extra("postback_url"))
            if postback_url:
                mask_write_key(postback_url)
                require_postback_write_key(postback_url)
                options.setdefault("allow_insecure_http", self._allow_insecure_http())
        return make_sink(
            mode,
            client,
            database=database or (None if postback_url else self.database),
            table=table,
            postback_url=postback_url,
            create_table=create_table,
            **options,
        )

    def test_connection(self) -> tuple[bool, str]:
        """List databases with the key (a write-only key cannot; the message then says so)."""
        try:
            client = self.get_client()
            quick = TDClient(
                client.session, client.endpoints, self.connection.password, timeout=self.timeout, retry=_TEST_RETRY
            )
            databases = [str(item.get("name")) for item in quick.list_databases()]
        except (TDError, ValueError) as error:
            return False, str(error)
        except requests.RequestException as error:
            return False, f"cannot reach Treasure Data: {type(error).__name__}"
        where = client.endpoints.describe()
        if self.database and self.database not in databases:
            return True, (
                f"Connected to Treasure Data ({where}); database {self.database!r} does not exist yet "
                "(create it, or deliver with create_table=True)"
            )
        return True, f"Connected to Treasure Data ({where}); {len(databases)} database(s) visible"

