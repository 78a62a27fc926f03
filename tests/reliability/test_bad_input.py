"""The bad-input catalogue: each bad input gets a clear error or a quarantine record naming it, everything
else in the run is delivered (checked against the emulator), and the ledger never marks undelivered data
as delivered. Core `Delivery` against a real emulator; the operator's `execute` where the case is a setting.
"""

from __future__ import annotations

import io
import logging
import socket
import time
from copy import deepcopy

import fastavro
import orjson
import pendulum
import pytest

from airflow.providers.common.compat.sdk import AirflowFailException
from airflow_braze_td.cli import main
from airflow_braze_td.currents.staging import StagingNotFoundError
from airflow_braze_td.delivery.lag import LagThresholds, judge, lag_report
from airflow_braze_td.delivery.ledger import DELIVERED, QUARANTINED, LedgerNotWritableError
from airflow_braze_td.delivery.pipeline import Delivery
from airflow_braze_td.delivery.settings import DeliverySettings
from airflow_braze_td.emulator import Emulator
from airflow_braze_td.sensors.delivery_lag import CurrentsDeliveryLagSensor
from airflow_braze_td.treasure_data.errors import TDAuthError, TDNotFoundError, TDTransientError
from tests.conftest import OPEN_SCHEMA, open_record
from tests.reliability.conftest import (
    BAD_OFFSET,
    HOUR,
    KEY,
    OTHER_KEY,
    WRITE_KEY,
    World,
    client_for,
    http_event,
    ids_of,
    key_of,
    landed_ids,
    operator_for,
    run_context,
    sink_for,
)

BAD_RECORDS = range(200, 500)


def avro_bytes(records: list[dict], schema: dict = OPEN_SCHEMA) -> bytes:
    """A real Avro container file, several blocks long, in memory."""
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), records, sync_interval=2_000)
    return out.getvalue()


def nested(depth: int) -> str:
    """JSON text of an object nested `depth` levels deep (built as text: encoders refuse such depths)."""
    return '{"level":' * depth + '"bottom"' + "}" * depth


def event_with_raw_properties(event_id: str, properties_json: str) -> str:
    """An event's JSON text whose `properties.deep` is `properties_json`, spliced in as text."""
    head = orjson.dumps(http_event(event_id)).decode().removesuffix('"properties":{}}')
    return f'{head}"properties":{{"deep":{properties_json}}}}}'


def staged_json(*events: str) -> bytes:
    return ('{"events":[' + ",".join(events) + "]}").encode()


def ok_event(number: int) -> str:
    return orjson.dumps(http_event(f"ok-{number}")).decode()


# --- files ------------------------------------------------------------------------------------------------


def test_truncated_avro_file_delivers_the_events_before_the_cut_and_quarantines_the_file(world: World) -> None:
    whole = avro_bytes([open_record(n) for n in BAD_RECORDS])
    key = world.put(whole[: len(whole) // 2])
    summary = world.deliver()
    record = world.file_quarantine(key)
    assert record["reason"] == "truncated file"
    assert 0 < record["record_index"] < len(BAD_RECORDS)
    assert world.state_of(key) == QUARANTINED and summary.files_quarantined == 1
    world.assert_delivered_exactly(extra_ids=ids_of(list(BAD_RECORDS)[: record["record_index"]]))


def test_bytes_that_are_not_avro_in_a_dot_avro_file_are_quarantined(world: World) -> None:
    key = world.put(b"PK\x03\x04 a zip archive, not an Avro object container file")
    world.deliver()
    assert world.file_quarantine(key)["reason"].startswith("not an Avro file: it starts with b'PK\\x03\\x04'")
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly()


@pytest.mark.parametrize(("extension", "reason"), [
    ("avro", "empty file: no Avro header"),
    ("json", "empty file: no JSON document"),
])
def test_an_empty_file_is_quarantined(world: World, extension: str, reason: str) -> None:
    key = world.put(b"", extension=extension)
    world.deliver()
    record = world.file_quarantine(key)
    assert record["reason"].startswith(reason) and record["staged"]["size"] == 0
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly()


@pytest.mark.parametrize("missing", ["id", "time"])
def test_an_avro_schema_without_id_or_time_is_not_a_currents_file(world: World, missing: str) -> None:
    schema = deepcopy(OPEN_SCHEMA)
    schema["fields"] = [field for field in schema["fields"] if field["name"] != missing]
    records = [{k: v for k, v in open_record(n).items() if k != missing} for n in BAD_RECORDS]
    key = world.put(avro_bytes(records, schema))
    world.deliver()
    assert world.file_quarantine(key)["reason"] == (
        f"Avro schema lacks required field(s) ['{missing}']: not a Braze Currents file")
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly()


# --- JSON -------------------------------------------------------------------------------------------------


def test_invalid_json_is_quarantined_with_its_line(world: World) -> None:
    key = world.put(b'{"events": [' + ok_event(1).encode() + b", {", extension="json")
    world.deliver()
    record = world.file_quarantine(key)
    assert record["reason"].startswith("invalid JSON: unexpected end of data") and record["line"] == 1
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly()


def test_a_bad_line_in_newline_delimited_json_keeps_the_lines_before_it(world: World) -> None:
    key = world.put(f"{ok_event(1)}\n{ok_event(2)}\n{{not json}}\n{ok_event(3)}\n".encode(), extension="json")
    world.deliver()
    record = world.file_quarantine(key)
    assert record["reason"].startswith("invalid JSON") and record["line"] == 3 and record["record_index"] == 2
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly(extra_ids=["ok-1", "ok-2"])


def test_a_json_object_that_is_neither_an_envelope_nor_an_event_is_quarantined(world: World) -> None:
    key = world.put(orjson.dumps({"data": [http_event("ok-1")]}), extension="json")
    world.deliver()
    assert world.file_quarantine(key)["reason"] == (
        'JSON object is neither an `{"events": [...]}` envelope nor an event')
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly()


def test_events_that_are_not_a_list_are_quarantined(world: World) -> None:
    key = world.put(orjson.dumps({"events": {"0": http_event("ok-1")}}), extension="json")
    world.deliver()
    assert world.file_quarantine(key)["reason"] == "`events` is a dict, not a list"
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly()


def test_an_event_without_an_id_is_quarantined_alone(world: World) -> None:
    no_id = http_event("ignored")
    del no_id["id"]
    key = world.put_events([http_event("ok-1"), no_id, http_event("ok-2")])
    summary = world.deliver()
    assert world.event_reasons(key) == ["event has no string `id` (got None)"]
    assert world.state_of(key) == QUARANTINED and summary.quarantined == 1
    world.assert_delivered_exactly(extra_ids=["ok-1", "ok-2"])


@pytest.mark.parametrize("bad_time", ["1764500000", 1_764_500_000.5, True, None])
def test_an_event_whose_time_is_not_integer_seconds_is_quarantined_alone(world: World, bad_time: object) -> None:
    key = world.put_events([http_event("ok-1"), {**http_event("bad-time"), "time": bad_time}])
    world.deliver()
    assert world.event_reasons(key) == [
        f"event bad-time has a `time` that is not integer Unix seconds (got {bad_time!r})"]
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly(extra_ids=["ok-1"])


# --- events -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "limit"), [("postback", 1_048_050), ("ingest", 1_000_000)])
def test_an_event_over_1_mb_is_quarantined_where_the_endpoint_refuses_it(world: World, mode: str,
                                                                        limit: int) -> None:
    key = world.put_events([http_event("ok-1"), http_event("big", blob="x" * 1_100_000), http_event("ok-2")])
    world.deliver(sink_for(world.emulator.url, mode))
    (reason,) = world.event_reasons(key)
    assert reason.startswith("event encodes to ") and f"over this sink's limit of {limit} per event" in reason
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly(extra_ids=["ok-1", "ok-2"])


def test_an_avro_event_over_1_mb_is_quarantined_as_its_event(world: World) -> None:
    """The columnar reader's events reach the batcher as rows, not dicts: the one refused is kept as its event."""
    records = [open_record(n) for n in range(300, 303)]
    records[1]["campaign_name"] = "x" * 1_100_000
    key = world.put(avro_bytes(records))
    summary = world.deliver(sink_for(world.emulator.url, "postback"))
    assert summary.files_columnar == 3  # the two good files and this one
    ((entry,),) = [record["events"] for record in world.quarantine(key) if record.get("events")]
    assert entry["reason"].startswith("event encodes to ")
    assert entry["event"]["id"] == records[1]["id"] and entry["event"]["properties"]["campaign_name"] == "x" * 1_100_000
    assert entry["event"]["user"] == {"user_id": "user301", "external_user_id": "ext301", "timezone": "Europe/Paris"}
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly(extra_ids=ids_of([300, 302]))


def test_an_event_over_1_mb_goes_through_the_import_api_which_has_no_such_limit(world: World) -> None:
    key = world.put_events([http_event("ok-1"), http_event("big", blob="x" * 1_100_000)])
    world.deliver(sink_for(world.emulator.url, "import"))
    assert world.state_of(key) == DELIVERED
    world.assert_delivered_exactly(extra_ids=["ok-1", "big"])


def test_an_unknown_event_type_is_delivered_and_named(world: World, connect, capsys, caplog) -> None:
    schema = {**OPEN_SCHEMA, "name": "dataexport.S3.inner.users.messages.hologram.Beam"}
    key = world.put(avro_bytes([open_record(n) for n in range(300, 303)], schema),
                    event_type="users.messages.hologram.Beam")
    connect(host=world.emulator.url, password=KEY)
    summary = operator_for(world).execute(run_context())
    assert summary["files_delivered"] == 3
    assert world.state_of(key) == DELIVERED
    world.assert_delivered_exactly(extra_ids=ids_of(range(300, 303)))
    logged = capsys.readouterr().out + caplog.text
    assert "catalog does not list" in logged and "users.messages.hologram.Beam" in logged
    assert lag_report(world.area, world.ledger).unknown_event_types == ["users.messages.hologram.Beam"]


def test_a_key_in_no_known_layout_is_reported_never_delivered_nor_marked(world: World, caplog) -> None:
    renamed = (f"dataexport.prod-01.S3.integration.5f1e0c9d8b7a6f5e4d3c2b1a/event_type=users.messages.email.Open/"
               f"date={HOUR.format('YYYY-MM-DD-HH')}/v11/us-01/part-00000.avro")
    impossible_date = key_of(BAD_OFFSET).replace(HOUR.format("YYYY-MM-DD-HH"), "2026-02-30-09")
    for key in (renamed, impossible_date):
        path = world.staging_dir / key
        path.parent.mkdir(parents=True)
        path.write_bytes(avro_bytes([open_record(n) for n in range(300, 303)]))
    with caplog.at_level(logging.WARNING):
        summary = world.deliver()
    assert "2 object(s) under" in caplog.text and "match no Braze Currents key layout and are not delivered" in (
        caplog.text)
    assert renamed in caplog.text and impossible_date in caplog.text
    assert summary.files == 2
    world.assert_delivered_exactly()
    assert len(world.ledger.states()) == 2
    report = lag_report(world.area, world.ledger)
    assert report.unmatched_keys == 2 and report.unmatched_examples == sorted([renamed, impossible_date])
    verdict = judge(report, LagThresholds())
    assert verdict.status == "delivered" and renamed in verdict.warning and "file naming" in verdict.warning


def test_a_future_queue_hour_is_neither_delivered_early_nor_counted_as_lag(world: World, connect, caplog) -> None:
    future = pendulum.now("UTC").start_of("hour").add(hours=26)
    key = world.put(avro_bytes([open_record(n) for n in range(300, 303)]), hour=future)
    connect(host=world.emulator.url, password=KEY)
    with caplog.at_level(logging.WARNING):
        operator_for(world, until="2099-01-01T00:00:00+00:00").execute(run_context())
    assert "queued after now" in caplog.text and key in caplog.text
    assert world.state_of(key) is None
    world.assert_delivered_exactly()

    future_file = next(staged for staged in world.area.list().files if staged.key == key)
    summary = operator_for(world, files=[future_file.to_dict()]).execute(run_context())
    assert summary["files"] == 0 and world.state_of(key) is None

    report = lag_report(world.area, world.ledger)
    assert (report.not_due_files, report.staged_files, report.pending_files, report.lag_hours) == (1, 2, 0, 0.0)
    assert judge(report, LagThresholds()).status == "delivered"
    once_due = lag_report(world.area, world.ledger, now=future.add(hours=1))
    assert once_due.pending_files == 1 and once_due.oldest_pending_key == key and once_due.lag_hours == 1.0


def test_a_string_that_is_not_utf8_in_avro_quarantines_the_file_from_that_record(world: World) -> None:
    records = [open_record(n) for n in range(300, 305)]
    records[2]["campaign_name"] = "MARKERXX"
    key = world.put(avro_bytes(records).replace(b"MARKERXX", b"MARK\xff\xfeXX"))
    world.deliver()
    record = world.file_quarantine(key)
    assert record["reason"].startswith("corrupt Avro data: 'utf-8' codec can't decode byte 0xff")
    assert record["record_index"] == 2 and world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly(extra_ids=ids_of([300, 301]))


def test_a_string_that_is_not_utf8_in_json_quarantines_the_file_from_that_line(world: World) -> None:
    bad_line = ok_event(2).replace('"ok-2"', '"ok-2","campaign":"caf\xe9"').encode("latin-1")
    key = world.put(ok_event(1).encode() + b"\n" + bad_line + b"\n", extension="json")
    world.deliver()
    record = world.file_quarantine(key)
    assert record["reason"].startswith("invalid JSON: str is not valid UTF-8") and record["line"] == 2
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly(extra_ids=["ok-1"])


@pytest.mark.parametrize("mode", ["postback", "import"])
def test_deeply_nested_properties_within_the_encoders_limit_are_delivered(world: World, mode: str) -> None:
    key = world.put(staged_json(ok_event(1), event_with_raw_properties("deep-1", nested(200))), extension="json")
    world.deliver(sink_for(world.emulator.url, mode))
    assert world.state_of(key) == DELIVERED
    world.assert_delivered_exactly(extra_ids=["ok-1", "deep-1"])


def test_properties_nested_past_the_json_readers_limit_quarantine_the_document(world: World) -> None:
    key = world.put(staged_json(ok_event(1), event_with_raw_properties("deep-1", nested(2_000))), extension="json")
    world.deliver()
    reason = world.file_quarantine(key)["reason"]
    assert reason.startswith("invalid JSON: ") and "depth" in reason, reason  # orjson's own words vary by release
    assert world.state_of(key) == QUARANTINED
    world.assert_delivered_exactly()


def test_properties_nested_past_the_encoders_limit_are_quarantined_and_the_run_goes_on(world: World) -> None:
    key = world.put(staged_json(ok_event(1), event_with_raw_properties("deep-1", nested(300)), ok_event(2)),
                    extension="json")
    world.deliver()
    assert world.state_of(key) == QUARANTINED
    (reason,) = world.event_reasons(key)
    assert "Recursion limit reached" in reason
    world.assert_delivered_exactly(extra_ids=["ok-1", "ok-2"])


# --- Treasure Data ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "expected"), [
    ({"database": "Braze-Prod"}, "database name 'Braze-Prod' is not valid in Treasure Data"),
    ({"table": "events.open"}, "table name 'events.open' is not valid in Treasure Data"),
    ({"table": "Braze_{event_type}"}, "table template 'Braze_{event_type}': outside {event_type}"),
])
def test_invalid_database_or_table_names_fail_before_anything_is_sent(world: World, connect, options: dict,
                                                                      expected: str) -> None:
    connect(host=world.emulator.url, password=KEY)
    with pytest.raises(AirflowFailException, match="not valid in Treasure Data|outside") as raised:
        operator_for(world, mode="import", **options).execute(run_context())
    assert str(raised.value).startswith(expected)
    if "database" in options:
        assert "(for example 'braze_prod')" in str(raised.value)
    assert world.emulator.requests() == [] and world.ledger.states() == {}
    assert world.last_error_message() == str(raised.value)


@pytest.mark.parametrize(("options", "expected"), [
    ({"requests_in_flight": 0}, "requests_in_flight must be at least 1, not 0"),
    ({"hash_fields": ["external_user_id"]}, "field path 'external_user_id' must start with `user.` or `properties.`"),
    ({"replay": "maybe"}, "replay must be a boolean (true/false, 1/0, yes/no, on/off), not 'maybe'"),
    ({"require_external_user_id": "None"},
     "require_external_user_id must be a boolean (true/false, 1/0, yes/no, on/off), not 'None'"),
])
def test_bad_delivery_settings_fail_without_retries_and_send_nothing(world: World, connect, options: dict,
                                                                     expected: str) -> None:
    connect(host=world.emulator.url, password=KEY)
    with pytest.raises(AirflowFailException) as raised:
        operator_for(world, mode="import", **options).execute(run_context())
    assert str(raised.value) == expected
    assert world.emulator.requests() == [] and world.ledger.states() == {}
    assert world.last_error_message() == expected


def test_a_missing_database_with_create_table_off_stops_and_delivers_after_it_is_created(world: World) -> None:
    with pytest.raises(TDNotFoundError) as raised:
        world.deliver(sink_for(world.emulator.url, "import", create_table=False))
    message = str(raised.value)
    assert "Treasure Data has no table braze.events_users_messages_email_open (HTTP 404" in message
    assert "database braze does not exist" in message and "create_table=True" in message
    assert world.ledger.states() == {} and landed_ids(world.emulator) == {}
    client_for(world.emulator.url).ensure_table("braze", "events_users_messages_email_open")
    world.deliver(sink_for(world.emulator.url, "import", create_table=False), owner="run-2")
    world.assert_delivered_exactly()


def test_a_401_stops_the_run_without_the_key_and_leaves_every_file_pending(tmp_path) -> None:
    with Emulator(api_keys=(KEY,)) as keyed:
        world = World(tmp_path, keyed)
        world.add_good_files()
        with pytest.raises(TDAuthError) as raised:
            world.deliver(sink_for(keyed.url, "import", key=OTHER_KEY))
        message = str(raised.value)
        assert "Treasure Data refused the key (HTTP 401 on PUT /v3/table/import_with_id/braze/" in message
        assert OTHER_KEY not in message and KEY not in message
        assert world.ledger.states() == {}
        world.deliver(sink_for(keyed.url, "import"), owner="run-2")
        world.assert_delivered_exactly()


def test_a_403_for_a_write_only_key_that_must_create_the_table_names_the_permission(tmp_path) -> None:
    with Emulator(api_keys=(KEY,), write_keys=(WRITE_KEY,)) as keyed:
        world = World(tmp_path, keyed)
        world.add_good_files()
        with pytest.raises(TDAuthError) as raised:
            world.deliver(sink_for(keyed.url, "import", key=WRITE_KEY))
        message = str(raised.value)
        assert "(HTTP 403 on POST /v3/database/create/braze)" in message
        assert "a write-only key can send rows but cannot create" in message and WRITE_KEY not in message
        assert world.ledger.states() == {}
        client_for(keyed.url).ensure_table("braze", "events_users_messages_email_open")
        world.deliver(sink_for(keyed.url, "import", key=WRITE_KEY), owner="run-2")
        world.assert_delivered_exactly()


def test_a_404_mid_run_keeps_what_was_delivered_and_the_rest_pending(world: World) -> None:
    """Open files go to an existing table; the Send file after them hits a table that does not exist."""
    client_for(world.emulator.url).ensure_table("braze", "events_users_messages_email_open")
    send_key = world.put(avro_bytes([open_record(n) for n in range(300, 303)]),
                         event_type="users.messages.email.Send")
    with pytest.raises(TDNotFoundError, match=r"no table braze\.events_users_messages_email_send \(HTTP 404"):
        world.deliver(sink_for(world.emulator.url, "import", create_table=False))
    assert world.state_of(send_key) is None
    world.assert_delivered_exactly()
    client_for(world.emulator.url).create_table("braze", "events_users_messages_email_send")
    world.deliver(sink_for(world.emulator.url, "import", create_table=False), owner="run-2")
    assert world.state_of(send_key) == DELIVERED
    world.assert_delivered_exactly(extra_ids=ids_of(range(300, 303)))


def test_a_postback_url_without_its_write_key_is_refused(world: World, connect) -> None:
    connect(host=world.emulator.url, password=KEY)
    url = f"{world.emulator.url}/postback/v3/event/braze/currents"
    with pytest.raises(AirflowFailException) as raised:
        operator_for(world, postback_url=url, database=None, table=None).execute(run_context())
    message = str(raised.value)
    assert "the postback URL .../postback/v3/event/braze/currents has no td_write_key" in message
    assert "Copy the whole URL from the Treasure Data console" in message
    assert world.emulator.requests() == [] and world.ledger.states() == {}
    operator_for(world, postback_url=f"{url}?td_write_key={WRITE_KEY}", database=None, table=None).execute(
        run_context())
    world.assert_delivered_exactly()


def _closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("host", "cause"), [
    (None, "Connection refused"),
    ("https://td.invalid", "Failed to resolve 'td.invalid'"),
], ids=["unreachable-host", "dns-failure"])
@pytest.mark.parametrize("mode", ["postback", "import", "ingest"])
def test_an_unreachable_treasure_data_fails_after_bounded_retries_and_leaves_files_pending(
        world: World, host: str | None, cause: str, mode: str) -> None:
    host = host or f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(TDTransientError) as raised:
        world.deliver(sink_for(host, mode))
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert "still failing after 3 attempts" in message and "all 3 attempts used" in message and cause in message
    assert KEY not in message
    assert world.ledger.states() == {}
    first = world.area.list().files[0]
    assert world.ledger.progress(first) is None or not world.ledger.progress(first).finished
    world.deliver(sink_for(world.emulator.url, mode), owner="run-2")
    world.assert_delivered_exactly()


# --- settings ---------------------------------------------------------------------------------------------


def test_a_staging_url_that_does_not_exist_fails_clearly_and_sends_nothing(world: World, connect, capsys) -> None:
    connect(host=world.emulator.url, password=KEY)
    missing = world.root / "no-such-prefix"
    with pytest.raises(AirflowFailException) as raised:
        operator_for(world, staging_url=str(missing)).execute(run_context())
    message = str(raised.value)
    assert message.startswith(f"staging prefix file://{missing} does not exist: check staging_url")
    assert world.emulator.requests() == [] and world.ledger.states() == {}
    assert world.last_error_message() == message
    sensor = CurrentsDeliveryLagSensor(task_id="check", staging_url=str(missing), ledger_url=str(world.ledger_dir))
    with pytest.raises(StagingNotFoundError, match=f"staging prefix file://{missing} does not exist"):
        sensor.poke({"ti": None, "data_interval_end": None})
    capsys.readouterr()
    assert main(["status", "--staging", str(missing), "--ledger", str(world.ledger_dir)]) == 3
    assert capsys.readouterr().err == f"braze-td: staging prefix file://{missing} does not exist\n"


def test_a_missing_connection_names_the_conn_id_and_how_to_set_it(world: World, connect) -> None:
    with pytest.raises(AirflowFailException) as raised:
        operator_for(world, td_conn_id="braze_td_missing").execute(run_context())
    message = str(raised.value)
    assert message.startswith("Treasure Data connection 'braze_td_missing' is not defined")
    assert "Admin > Connections" in message and "AIRFLOW_CONN_BRAZE_TD_MISSING" in message
    assert world.emulator.requests() == [] and world.ledger.states() == {}
    connect("braze_td_missing", host=world.emulator.url, password=KEY)
    operator_for(world, td_conn_id="braze_td_missing").execute(run_context())
    world.assert_delivered_exactly()


def test_a_wrong_mode_name_fails_before_anything_is_read_or_sent(world: World, connect) -> None:
    connect(host=world.emulator.url, password=KEY)
    with pytest.raises(AirflowFailException, match=r"^mode 'bulk' is not one of postback, import, ingest$"):
        operator_for(world, mode="bulk").execute(run_context())
    assert world.emulator.requests() == [] and world.ledger.states() == {}
    assert world.last_error_message() == "mode 'bulk' is not one of postback, import, ingest"


def test_a_ledger_url_that_cannot_be_written_fails_before_anything_is_sent(world: World, connect) -> None:
    connect(host=world.emulator.url, password=KEY)
    blocker = world.root / "ledger-is-a-file"
    blocker.write_text("not a folder")
    with pytest.raises(AirflowFailException) as raised:
        operator_for(world, ledger_url=str(blocker / "ledger")).execute(run_context())
    message = str(raised.value)
    assert message.startswith(f"the delivery ledger at {blocker / 'ledger'} cannot be written")
    assert "nothing was sent" in message
    assert world.emulator.requests() == []


def test_the_core_names_an_unwritable_ledger_whatever_the_os_error(world: World) -> None:
    blocker = world.root / "ledger-is-a-file"
    blocker.write_text("not a folder")
    area = world.area
    delivery = Delivery(area, sink_for(world.emulator.url), type(world.ledger).from_url(str(blocker / "ledger")),
                        DeliverySettings(), "run-1")
    with pytest.raises(LedgerNotWritableError, match="cannot write the delivery ledger"):
        delivery.run(area.list().files)
    assert world.emulator.requests() == []
