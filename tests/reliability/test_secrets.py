"""The API key and the postback write key never show: not in `braze-td` output, exception texts, reprs,
XCom, rendered template fields, the ledger, nor a run's logs at DEBUG. TLS verification cannot be turned
off by a connection, and plain http to a host that is not loopback needs the explicit switch.

Airflow's secrets masker is not installed in these tests, so a key that our code wrote anywhere would show
up as is: the checks do not lean on masking.
"""

from __future__ import annotations

import logging
import traceback

import orjson
import pytest

from airflow.providers.common.compat.sdk import AirflowFailException, redact
from airflow_braze_td.cli import main
from airflow_braze_td.delivery.batching import Batch
from airflow_braze_td.delivery.ledger import QUARANTINED
from airflow_braze_td.delivery.settings import DeliverySettings
from airflow_braze_td.emulator import Emulator, Fault
from airflow_braze_td.hooks.treasure_data import TreasureDataHook
from airflow_braze_td.treasure_data.endpoints import Endpoints, InsecureURLError
from airflow_braze_td.treasure_data.errors import TDAuthError, TDError, TDTransientError
from airflow_braze_td.treasure_data.sinks import SINK_CLASSES, make_sink
from tests.reliability.conftest import (
    FAST_RETRY,
    KEY,
    WRITE_KEY,
    World,
    client_for,
    http_event,
    operator_for,
    run_context,
    sink_for,
)

SECRETS = (KEY, WRITE_KEY)


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for secret in SECRETS:
            assert secret.encode() not in data, f"a key leaked into: {data[:300]!r}"


def every_text_of(error: BaseException) -> str:
    """str, repr, args, detail and the whole chained traceback of an exception."""
    return "\n".join([str(error), repr(error), repr(error.args), str(getattr(error, "detail", "")),
                      *traceback.format_exception(error)])


def echo(secret: str) -> dict:
    """An error body that quotes the key back, as some proxies and gateways do."""
    return {"error": "Rejected", "message": f"key {secret} is not allowed here"}


def postback_url(emu: Emulator, key: str = WRITE_KEY) -> str:
    return f"{emu.url}/postback/v3/event/braze/currents?td_write_key={key}"


def ledger_bytes(world: World) -> bytes:
    return b"".join(path.read_bytes() for path in world.ledger_dir.rglob("*") if path.is_file())


def quarantine_one_event(world: World) -> None:
    """A staged file, delivered first, whose one event Treasure Data refused (HTTP 400): it waits in the
    quarantine."""
    world.put_events([http_event("refused-once")], offset=0)
    world.emulator.push_faults(Fault.http(400, body=echo(KEY)))
    world.deliver()
    assert QUARANTINED in world.ledger.states().values()
    world.emulator.clear_faults()


# --- braze-td output ---------------------------------------------------------------------------------------


def test_requeue_output_and_debug_logs_hold_no_key(world: World, connect, capsys, caplog) -> None:
    quarantine_one_event(world)
    connect(host=world.emulator.url, password=KEY)
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG):
        code = main(["requeue", "--ledger", str(world.ledger_dir), "--postback-url", postback_url(world.emulator),
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and orjson.loads(out)["sent"] == 1
    assert '"POST /postback/v3/event/braze/currents HTTP/1.1" 200' in caplog.text, "DEBUG logs were captured"
    assert_no_secret(out, err, caplog.text, ledger_bytes(world))


@pytest.mark.parametrize(("mode", "status", "secret"), [("import", 401, KEY), ("postback", 403, WRITE_KEY)])
def test_requeue_failing_on_the_key_says_so_without_the_key(world: World, connect, capsys, caplog, mode: str,
                                                            status: int, secret: str) -> None:
    quarantine_one_event(world)
    connect(host=world.emulator.url, password=KEY)
    world.emulator.push_faults(Fault.http(status, body=echo(secret)))
    capsys.readouterr()
    target = (["--mode", "import", "--database", "braze", "--table", "events"] if mode == "import"
              else ["--postback-url", postback_url(world.emulator)])
    with caplog.at_level(logging.DEBUG):
        code = main(["requeue", "--ledger", str(world.ledger_dir), *target])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    # Airflow 2 also logs its own warnings to stderr, before the command's message.
    assert f"\nbraze-td: Treasure Data refused the key (HTTP {status} on " in f"\n{err}"
    assert "key *** is not allowed here" in err
    assert_no_secret(out, err, caplog.text, ledger_bytes(world))


@pytest.mark.parametrize(("mode", "status", "secret"), [("import", 401, KEY), ("postback", 403, WRITE_KEY)])
def test_status_after_a_run_refused_for_its_key_shows_the_error_not_the_key(world: World, connect, capsys,
                                                                            mode: str, status: int,
                                                                            secret: str) -> None:
    connect(host=world.emulator.url, password=KEY)
    # One refusal for each request the sink has in flight: whichever is answered first stops the run.
    world.emulator.push_faults(*[Fault.http(status, body=echo(secret))] * SINK_CLASSES[mode].requests_in_flight)
    options = ({"mode": "import", "table": "events"} if mode == "import" else
               {"postback_url": postback_url(world.emulator), "database": None, "table": None})
    with pytest.raises(AirflowFailException) as raised:
        operator_for(world, **options).execute(run_context())
    assert f"HTTP {status}" in str(raised.value) and "key *** is not allowed here" in str(raised.value)
    capsys.readouterr()
    assert main(["status", "--staging", str(world.staging_dir), "--ledger", str(world.ledger_dir)]) == 0
    text = capsys.readouterr().out
    assert main(["status", "--staging", str(world.staging_dir), "--ledger", str(world.ledger_dir), "--json"]) == 0
    report = capsys.readouterr().out
    assert "last delivery error of every event type (" in text and "): Treasure Data refused the key" in text
    assert [error["message"] for error in orjson.loads(report)["last_errors"]] == [str(raised.value)]
    assert_no_secret(every_text_of(raised.value), text, report, ledger_bytes(world))


# --- exception texts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "fault", "error_type"), [
    ("import", Fault.http(401, body=echo(KEY)), TDAuthError),
    ("ingest", Fault.http(403, body=echo(KEY)), TDAuthError),
    ("postback", Fault.http(403, body=echo(WRITE_KEY)), TDAuthError),
    ("postback", Fault.http(503, body=echo(WRITE_KEY)), TDTransientError),
], ids=["import-401", "ingest-403", "postback-403", "postback-503"])
def test_delivery_errors_hold_no_key_in_any_text(world: World, mode: str, fault: Fault,
                                                 error_type: type[TDError]) -> None:
    sink = (make_sink("postback", client_for(world.emulator.url), postback_url=postback_url(world.emulator))
            if mode == "postback" else sink_for(world.emulator.url, mode))
    world.emulator.push_faults(*[fault] * (FAST_RETRY.max_attempts * sink.requests_in_flight))
    with pytest.raises(error_type) as raised:
        world.deliver(sink)
    text = every_text_of(raised.value)
    assert "key *** is not allowed here" in text
    assert_no_secret(text, repr(sink), ledger_bytes(world))


# --- reprs, XCom, rendered fields and logs of an operator run ------------------------------------------------


def test_reprs_of_hooks_clients_sinks_and_settings_hold_no_key(world: World, connect) -> None:
    connect(host=world.emulator.url, password=KEY, extra={"database": "braze",
                                                         "postback_url": postback_url(world.emulator)})
    hook = TreasureDataHook()
    client = hook.get_client()
    sinks = [hook.get_sink("postback"), hook.get_sink("import", table="events"),
             hook.get_sink("ingest", table="events"),
             hook.get_sink("postback", postback_url=postback_url(world.emulator))]
    operator = operator_for(world, postback_url=postback_url(world.emulator), database=None, table=None)
    objects = [hook, client, client.endpoints, *sinks, *(sink.destination for sink in sinks), operator,
               world.ledger, world.area, DeliverySettings()]
    assert_no_secret(*(repr(thing) for thing in objects), *(str(thing) for thing in objects))


def test_rendering_a_templated_postback_url_masks_its_key(world: World) -> None:
    operator = operator_for(world, postback_url="{{ params.url }}", database=None, table=None)
    url = postback_url(world.emulator, key="9/" + "f0" * 20)
    operator.render_template_fields({"params": {"url": url}})
    assert operator.postback_url == url
    assert redact(operator.postback_url).endswith("td_write_key=***")


@pytest.mark.parametrize(("mode", "secrets"), [("postback", (KEY, WRITE_KEY)), ("import", (KEY,))])
def test_a_run_logged_at_debug_holds_no_key_in_logs_xcom_or_ledger(world: World, connect, capsys, caplog,
                                                                   mode: str, secrets: tuple[str, ...]) -> None:
    """Retries, a refused event and a quarantine, with server texts quoting every key the run holds: every
    path that logs server text, at DEBUG."""
    connect(host=world.emulator.url, password=KEY)
    world.put_events([http_event("refused")])
    world.emulator.push_faults(Fault.http(429, retry_after="0", body=echo(secrets[0])),
                               Fault.http(500, body=echo(secrets[-1])),
                               *[Fault.http(400, body=echo(secrets[-1]))] * 4)
    options = ({"postback_url": postback_url(world.emulator), "database": None, "table": None}
               if mode == "postback" else {"mode": "import", "table": "events", "create_table": True})
    with caplog.at_level(logging.DEBUG):
        result = operator_for(world, **options).execute(run_context())
    out, err = capsys.readouterr()
    assert result["retries"] == 2 and result["quarantined"] == 1
    assert "failed: HTTP 429: Rejected; key *** is not allowed here" in caplog.text
    assert "refused one" in caplog.text and "(HTTP 400: Rejected; key *** is not allowed here)" in caplog.text
    assert ' HTTP/1.1" 200' in caplog.text, "DEBUG logs were captured"
    assert_no_secret(caplog.text, out, err, orjson.dumps(result), ledger_bytes(world))


# --- TLS and plain http ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{"verify": False}, {"verify_ssl": False}, {"verify": 0}, {"verify": ""},
                                   {"verify": "false"}, {"verify": "False"}, {"verify": "no"}])
def test_a_connection_cannot_turn_tls_verification_off(connect, extra: dict) -> None:
    connect(password=KEY, extra=extra)
    with pytest.raises(ValueError, match="turns TLS verification off") as raised:
        TreasureDataHook().get_client()
    assert_no_secret(str(raised.value))


@pytest.mark.parametrize(("extra", "verify"), [({}, True), ({"verify": True}, True), ({"verify": "true"}, True),
                                               ({"verify": 1}, True),
                                               ({"verify": "/etc/ssl/certs/ca-certificates.crt"},
                                                "/etc/ssl/certs/ca-certificates.crt")])
def test_verification_stays_on_or_uses_the_given_ca_bundle(connect, extra: dict, verify: object) -> None:
    connect(password=KEY, extra=extra)
    assert TreasureDataHook().get_client().session.verify == verify


def _hook(connect, **fields) -> TreasureDataHook:
    connect(**fields)
    return TreasureDataHook(retry=FAST_RETRY, timeout=(2.0, 5.0))


@pytest.mark.parametrize("where", ["connection-host", "connection-postback-url", "task-postback-url"])
def test_plain_http_to_a_remote_host_needs_the_explicit_switch(connect, where: str) -> None:
    """Without the switch nothing is attempted; with it, a request really goes out over http (to a name
    under `.invalid`, which never resolves, so no traffic leaves the machine)."""
    remote = "http://td.invalid"
    url = f"{remote}/postback/v3/event/braze/currents?td_write_key={WRITE_KEY}"
    fields = {"password": KEY, "host": remote} if where == "connection-host" else {"password": KEY}

    def sink_of(hook: TreasureDataHook):
        if where == "connection-host":
            return hook.get_sink("import", database="braze", table="events")
        if where == "connection-postback-url":
            return hook.get_sink("postback")
        return hook.get_sink("postback", postback_url=url)

    extra = {"postback_url": url} if where == "connection-postback-url" else {}
    with pytest.raises(InsecureURLError, match="refusing plain http to td.invalid") as raised:
        sink_of(_hook(connect, **fields, extra=extra))
    assert_no_secret(str(raised.value))
    sink = sink_of(_hook(connect, **fields, extra={**extra, "allow_insecure_http": True}))
    route, item = sink.encode(http_event("over-http"))
    with pytest.raises(TDTransientError, match=r"HTTPConnectionPool\(host='td.invalid', port=80\)") as failed:
        sink.send(Batch(route, 0, [item], [http_event("over-http")], len(item)))
    assert_no_secret(every_text_of(failed.value))


@pytest.mark.parametrize("host", ["http://127.0.0.1:8089", "http://localhost:8089", "http://[::1]:8089"])
def test_plain_http_to_loopback_needs_no_switch(host: str) -> None:
    assert Endpoints.for_region(host=host).api == host


@pytest.mark.parametrize("host", ["http://localhost.example.com", "http://127.0.0.1.nip.io", "http://127.1",
                                  "http://2130706433"])
def test_hosts_that_only_look_like_loopback_need_the_switch(host: str) -> None:
    with pytest.raises(InsecureURLError):
        Endpoints.for_region(host=host)


def test_an_operator_with_a_plain_http_postback_url_fails_before_sending(world: World, connect) -> None:
    connect(host=world.emulator.url, password=KEY)
    url = f"http://td.invalid/postback/v3/event/braze/currents?td_write_key={WRITE_KEY}"
    with pytest.raises(AirflowFailException, match="refusing plain http to td.invalid") as raised:
        operator_for(world, postback_url=url, database=None, table=None).execute(run_context())
    assert_no_secret(every_text_of(raised.value), ledger_bytes(world))
    assert world.emulator.requests() == [] and world.ledger.states() == {}
