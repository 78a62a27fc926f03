"""TreasureDataHook: a connection from the environment, one session, no stray headers, masked secrets."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest
from airflow.providers.common.compat.sdk import redact

import airflow_braze_td.hooks.treasure_data as hooks_module
from airflow_braze_td.emulator import Emulator, Fault
from airflow_braze_td.hooks.treasure_data import CONNECTION_TYPE_INFO, TreasureDataHook
from airflow_braze_td.treasure_data.endpoints import InsecureURLError
from airflow_braze_td.treasure_data.errors import TDTransientError
from airflow_braze_td.treasure_data.sinks import ImportSink, PostbackSink
from tests.treasure_data.td_helpers import FAST_RETRY, KEY, OTHER_KEY, WRITE_KEY, EchoServer, deliver, make_event

OUR_EXTRAS = ("region", "database", "postback_url", "allow_insecure_http", "retry")


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch):
    """Define `treasure_data_default` through AIRFLOW_CONN_TREASURE_DATA_DEFAULT, as a deployment would."""

    def define(conn_id: str = "treasure_data_default", **fields: Any) -> TreasureDataHook:
        fields.setdefault("conn_type", "treasure_data")
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return TreasureDataHook(conn_id, retry=FAST_RETRY, timeout=(2.0, 5.0))

    return define


def test_class_attributes() -> None:
    assert TreasureDataHook.conn_type == "treasure_data"
    assert TreasureDataHook.default_conn_name == "treasure_data_default"
    assert TreasureDataHook.hook_name == "Treasure Data"
    assert TreasureDataHook().td_conn_id == "treasure_data_default"


def test_region_from_extra_picks_the_hosts(connect) -> None:
    hook = connect(password=KEY, extra={"region": "eu01", "database": "braze"})
    endpoints = hook.get_client().endpoints
    assert (endpoints.api, endpoints.imports, endpoints.postback, endpoints.ingest) == (
        "https://api.eu01.treasuredata.com", "https://api-import.eu01.treasuredata.com",
        "https://eu01.in.treasuredata.com", "https://eu01.records.in.treasuredata.com",
    )
    assert connect(password=KEY).get_client().endpoints.region == "us01"


def test_host_override_and_insecure_http(connect) -> None:
    assert connect(password=KEY, host="http://127.0.0.1:8089").get_endpoints().ingest == "http://127.0.0.1:8089"
    assert connect(password=KEY, host="127.0.0.1", port=9, schema="http").get_endpoints().api == "http://127.0.0.1:9"
    with pytest.raises(InsecureURLError):
        connect(password=KEY, host="http://td.example.com").get_endpoints()
    hook = connect(password=KEY, host="http://td.example.com", extra={"allow_insecure_http": True})
    assert hook.get_endpoints().api == "http://td.example.com"


def test_extras_are_not_sent_as_headers_and_the_key_goes_as_td1(connect, echo: EchoServer) -> None:
    hook = connect(
        password=KEY,
        host=echo.url,
        extra={"region": "ap02", "database": "braze", "allow_insecure_http": False, "retry": {"max_attempts": 3},
               "postback_url": "https://in.treasuredata.com/postback/v3/event/a_b/c_d?td_write_key=" + WRITE_KEY,
               "X-Team": "growth"},
    )
    assert hook.get_client().list_databases() == [{"name": "echo_db"}]
    headers = {name.lower(): value for name, value in echo.seen[0]["headers"].items()}
    assert not set(OUR_EXTRAS) & set(headers)
    assert headers["authorization"] == f"TD1 {KEY}"
    assert headers["x-team"] == "growth"  # HttpHook's header extras still work for anything else
    assert headers["user-agent"].startswith("airflow-provider-braze-td/")


def test_one_session_per_hook_and_explicit_timeouts(connect, emu: Emulator) -> None:
    hook = connect(password=KEY, host=emu.url, extra={"database": "braze"})
    session = hook.get_conn()
    assert hook.get_conn() is session and hook.get_client() is hook.get_client()
    assert hook.get_client().session is session and hook.get_client().timeout == (2.0, 5.0)
    assert hook.get_sink("import", table="events").client is hook.get_client()
    assert session.auth is None and session.verify is True


@pytest.mark.parametrize(("extra", "expected"), [([3, 0.5], (3.0, 0.5)), (7, (7.0, 7.0))])
def test_a_timeout_extra_overrides_the_default(connect, emu: Emulator, extra: object, expected: tuple) -> None:
    hook = connect(password=KEY, host=emu.url, extra={"timeout": extra})
    assert hook.get_client().timeout == expected
    assert "timeout" not in {name.lower() for name in hook.get_conn().headers}


def test_a_retry_extra_bounds_the_attempts_of_every_request(connect, emu: Emulator) -> None:
    hook = connect(password=KEY, host=emu.url, extra={"retry": {"max_attempts": 2, "initial_wait": 0.01,
                                                                "max_wait": 0.02}})
    policy = hook.get_client().retry
    assert (policy.max_attempts, policy.initial_wait, policy.max_wait) == (2, 0.01, 0.02)
    assert policy.max_total_seconds == FAST_RETRY.max_total_seconds
    assert "retry" not in {name.lower() for name in hook.get_conn().headers}
    emu.push_faults(*[Fault.http(503) for _ in range(3)])
    with pytest.raises(TDTransientError, match="after 2 attempts"):
        hook.get_client().list_databases()
    assert emu.fault_counts()["503"] == 2


@pytest.mark.parametrize("extra", [{"tries": 3}, {"max_attempts": 0}, {"max_wait": "soon"}, [2, 3]])
def test_a_bad_retry_extra_names_the_connection_and_the_setting(connect, emu: Emulator, extra: object) -> None:
    hook = connect(password=KEY, host=emu.url, extra={"retry": extra})
    with pytest.raises(ValueError, match="connection 'treasure_data_default': extra `retry`"):
        hook.get_client()


def test_secrets_are_masked_and_never_in_the_repr(connect) -> None:
    url = "https://in.treasuredata.com/postback/v3/event/braze/events?td_write_key=" + WRITE_KEY
    hook = connect(password=KEY, extra={"postback_url": url})
    hook.get_client()
    assert redact(f"key={KEY} write={WRITE_KEY}") == "key=*** write=***"
    assert KEY not in repr(hook) and KEY not in repr(hook.get_client())


def test_tls_verification_cannot_be_switched_off(connect) -> None:
    with pytest.raises(ValueError, match="TLS verification"):
        connect(password=KEY, extra={"verify": False}).get_client()


def test_a_connection_without_a_key_is_refused_clearly(connect) -> None:
    with pytest.raises(ValueError, match="has no password"):
        connect(host="http://127.0.0.1:1").get_client()


def test_get_sink_uses_the_connections_database_and_delivers(connect, emu: Emulator) -> None:
    hook = connect(password=KEY, host=emu.url, extra={"database": "braze"})
    sink = hook.get_sink("import", table="{event_type}", create_table=True)
    assert isinstance(sink, ImportSink) and sink.database == "braze"
    assert sum(r.accepted for r in deliver(sink, [make_event(n) for n in range(5)])) == 5
    assert emu.count("braze", "users_messages_email_open") == 5


def test_get_sink_postback_from_the_connections_url(connect, emu: Emulator) -> None:
    url = f"{emu.url}/postback/v3/event/braze/from_console?td_write_key={WRITE_KEY}"
    hook = connect(password=OTHER_KEY, host=emu.url, extra={"database": "braze", "postback_url": url})
    sink = hook.get_sink("postback")
    assert isinstance(sink, PostbackSink) and sink.router.template == "from_console"
    assert deliver(sink, [make_event(1)])[0].accepted == 1
    assert emu.count("braze", "from_console") == 1
    assert redact(WRITE_KEY) == "***"


def test_test_connection_reports_success_and_failure_without_the_key(connect, emu: Emulator) -> None:
    ok, message = connect(password=KEY, host=emu.url, extra={"database": "braze"}).test_connection()
    assert ok and "database 'braze' does not exist yet" in message
    with Emulator(api_keys=(KEY,)) as keyed:
        ok, message = connect(password=OTHER_KEY, host=keyed.url).test_connection()
    assert not ok and "HTTP 401" in message and OTHER_KEY not in message
    ok, message = connect(password=KEY, host="http://127.0.0.1:9").test_connection()
    assert not ok and KEY not in message


def test_connection_type_info_is_valid_provider_info() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider.yaml.schema.json").read_text())
    jsonschema.validate(CONNECTION_TYPE_INFO, schema["properties"]["connection-types"]["items"])
    assert CONNECTION_TYPE_INFO["hook-class-name"] == "airflow_braze_td.hooks.treasure_data.TreasureDataHook"
    assert CONNECTION_TYPE_INFO["connection-type"] == "treasure_data"
    fields = CONNECTION_TYPE_INFO["conn-fields"]
    assert fields["region"]["schema"]["enum"] == ["us01", "ap01", "eu01", "ap02", "ap03"]
    assert fields["postback_url"]["schema"]["format"] == "password"
    assert set(fields) == {*OUR_EXTRAS, "timeout"}
    behaviour = TreasureDataHook.get_ui_field_behaviour()
    assert CONNECTION_TYPE_INFO["ui-field-behaviour"]["hidden-fields"] == behaviour["hidden_fields"]


def test_the_hook_works_when_imported_first_in_a_fresh_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow loads provider info while the hook module is still importing: that must not be circular."""
    import subprocess
    import sys

    monkeypatch.setenv("AIRFLOW_CONN_TREASURE_DATA_DEFAULT", json.dumps(
        {"conn_type": "treasure_data", "host": "http://127.0.0.1:9", "password": KEY}))
    code = ("from airflow_braze_td.hooks.treasure_data import TreasureDataHook; "
            "print(TreasureDataHook().get_sink('import', database='braze', table='events'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ImportSink" in done.stdout


def test_the_connection_form_lists_every_extra_the_hook_reads() -> None:
    """Every `_extra("name")` / `_extra_of(connection, "name")` in the hook has a field in the connection form."""
    source = Path(hooks_module.__file__).read_text()
    read = {
        argument.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("_extra", "_extra_of")
        for argument in node.args
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
    }
    assert {"region", "database", "postback_url", "allow_insecure_http", "timeout", "retry"} <= read
    assert read <= set(CONNECTION_TYPE_INFO["conn-fields"])
