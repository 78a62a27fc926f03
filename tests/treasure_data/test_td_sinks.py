"""The three sinks against the emulator: delivery, splitting, isolation, partial success, dedupe, secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest
import requests

from airflow_braze_td.delivery.batching import Batch, BatchLimits, OversizeEvent
from airflow_braze_td.delivery.sink import EventEncodeError
from airflow_braze_td.emulator import Emulator, Fault
from airflow_braze_td.identities import split_key
from airflow_braze_td.treasure_data.client import TDClient
from airflow_braze_td.treasure_data.endpoints import InsecureURLError
from airflow_braze_td.treasure_data.errors import (
    TDAuthError,
    TDNotFoundError,
    TDTransientError,
)
from airflow_braze_td.treasure_data.retry import RetryPolicy
from airflow_braze_td.treasure_data.rows import flatten_event
from airflow_braze_td.treasure_data.sinks import POSTBACK_MAX_BODY, TDSink, make_sink
from tests.treasure_data.td_helpers import (
    KEY,
    OTHER_KEY,
    WRITE_KEY,
    EchoServer,
    batches_of,
    client_for,
    deliver,
    make_event,
)

DB, TABLE = "braze", "events"
TWO_TRIES = RetryPolicy(max_attempts=2, initial_wait=0.001, max_wait=0.002)


def ids_stored(emu: Emulator, mode: str, table: str = TABLE) -> list[str]:
    """Event ids in the table: inside the `events` column for postback rows, one per row otherwise."""
    rows = emu.rows(DB, table)
    if mode == "postback":
        return [event["id"] for row in rows for event in row["events"]]
    return [row["id"] for row in rows]


def data_requests(emu: Emulator) -> list[dict]:
    """The emulator's request log without the control-plane calls that set tables up."""
    return [entry for entry in emu.requests() if not entry["path"].startswith(("/v3/database/", "/v3/table/create/"))]


def sink_for(mode: str, client: TDClient, **kwargs) -> TDSink:
    if mode != "postback":
        client.ensure_table(DB, kwargs.get("table", TABLE))
    kwargs.setdefault("table", TABLE)
    return make_sink(mode, client, database=DB, **kwargs)


def manual_batch(sink: TDSink, items: list[bytes], events: list[dict], key: str = "") -> Batch:
    """A batch built by hand, to send what the batcher would never build (too big, or broken items)."""
    return Batch(TABLE, 0, items, events, 0, key)


# --- postback ---------------------------------------------------------------------------------------


def test_postback_stores_exactly_what_brazes_export_posts(client: TDClient, emu: Emulator) -> None:
    events = [make_event(n, custom={"z": 1, "a": [n]}) for n in range(250)]
    results = deliver(make_sink("postback", client, database=DB, table=TABLE), events)
    assert [(r.accepted, r.rejected, r.requests) for r in results] == [(100, [], 1), (100, [], 1), (50, [], 1)]
    expected = [
        b'{"events":[' + b",".join(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in chunk) + b"]}"
        for chunk in (events[:100], events[100:200], events[200:])
    ]
    assert emu.postback_bodies(DB, TABLE) == expected


def test_postback_batches_stay_below_the_body_limit(client: TDClient, emu: Emulator) -> None:
    events = [make_event(n, blob="x" * 30_000) for n in range(100)]
    sink = make_sink("postback", client, database=DB, table=TABLE)
    batches = batches_of(sink, events)
    assert len(batches) > 2 and all(batch.nbytes < POSTBACK_MAX_BODY for batch in batches)
    for batch in batches:
        sink.send(batch)
    bodies = emu.postback_bodies(DB, TABLE)
    assert [len(body) for body in bodies] == [batch.nbytes for batch in batches]
    assert ids_stored(emu, "postback") == [event["id"] for event in events]


@pytest.fixture
def strict() -> Iterator[Emulator]:
    """Knows only WRITE_KEY and refuses a bad postback key with 403 instead of TD's lenient 200."""
    with Emulator(write_keys=(WRITE_KEY,), strict_postback=True) as emulator:
        yield emulator


@pytest.mark.parametrize("quoted", [False, True])
def test_console_postback_url_key_goes_in_a_header_and_never_into_logs(
    strict: Emulator, http: requests.Session, caplog: pytest.LogCaptureFixture, quoted: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    key_in_url = quote(WRITE_KEY, safe="") if quoted else WRITE_KEY
    url = f"{strict.url}/postback/v3/event/{DB}/{TABLE}?td_write_key={key_in_url}"
    client = client_for(strict.url, http, key=OTHER_KEY)  # the connection key is not the write key
    sink = make_sink("postback", client, postback_url=url)
    assert (sink.database, sink.router.template) == (DB, TABLE)
    strict.push_faults(Fault(status=429, retry_after="0"), Fault(status=500), Fault(reset=True))
    events = [make_event(n) for n in range(5)]
    assert [r.accepted for r in deliver(sink, events)] == [5]
    assert ids_stored(strict, "postback") == [event["id"] for event in events]  # the emulator took the key
    assert all("?" not in entry["path"] for entry in strict.requests())
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    assert any("retry" in record.getMessage() for record in caplog.records)
    for secret in (WRITE_KEY, key_in_url):
        assert secret not in caplog.text
        assert all(secret not in record.getMessage() for record in caplog.records)
        assert secret not in repr(sink) and secret not in repr(client)


def test_a_refused_postback_key_raises_an_auth_error_without_the_key(strict: Emulator, http: requests.Session) -> None:
    wrong = "4242/" + "0" * 40
    client = client_for(strict.url, http, key=OTHER_KEY)
    url = f"{strict.url}/postback/v3/event/{DB}/{TABLE}?td_write_key={wrong}"
    sink = make_sink("postback", client, postback_url=url)
    with pytest.raises(TDAuthError, match="HTTP 403") as raised:
        deliver(sink, [make_event(1)])
    assert wrong not in str(raised.value) and [e["status"] for e in strict.requests()] == [403]


def test_postback_sends_the_write_key_header_and_no_authorization(echo: EchoServer, http: requests.Session) -> None:
    url = f"{echo.url}/postback/v3/event/{DB}/{TABLE}?td_write_key={WRITE_KEY}&x=1"
    sink = make_sink("postback", client_for(echo.url, http), postback_url=url)
    deliver(sink, [make_event(1)])
    (seen,) = echo.seen
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert headers["x-td-write-key"] == WRITE_KEY and "authorization" not in headers
    assert headers["content-type"] == "application/json"
    assert seen["path"] == f"/postback/v3/event/{DB}/{TABLE}?x=1"


def test_postback_url_is_checked(client: TDClient) -> None:
    with pytest.raises(ValueError, match="not a Treasure Data postback URL"):
        make_sink("postback", client, postback_url="https://in.treasuredata.com/v3/event/braze")
    with pytest.raises(ValueError, match=r"not braze\.other"):
        make_sink("postback", client, postback_url=f"https://in.treasuredata.com/postback/v3/event/{DB}/{TABLE}",
                  table="other")
    with pytest.raises(InsecureURLError):
        make_sink("postback", client, postback_url=f"http://in.treasuredata.com/postback/v3/event/{DB}/{TABLE}")


# --- import -----------------------------------------------------------------------------------------


def test_import_stores_flat_rows(client: TDClient, emu: Emulator) -> None:
    events = [make_event(n, nested={"b": 1}) for n in range(30)]
    sink = sink_for("import", client)
    assert sink.idempotent and sink.limits.max_events == 10_000
    assert [r.accepted for r in deliver(sink, events)] == [30]
    assert emu.rows(DB, TABLE) == [flatten_event(event) for event in events]


@pytest.mark.parametrize("level", [0, 3])
def test_import_bodies_are_gzip_at_each_isal_level(client: TDClient, emu: Emulator, level: int) -> None:
    events = [make_event(n) for n in range(20)]
    assert [r.accepted for r in deliver(sink_for("import", client, gzip_level=level), events)] == [20]
    assert emu.rows(DB, TABLE) == [flatten_event(event) for event in events]


@pytest.mark.parametrize("level", [-1, 4, 6])
def test_import_refuses_a_gzip_level_isal_lacks(client: TDClient, level: int) -> None:
    with pytest.raises(ValueError, match="ISA-L's, 0 to 3"):
        sink_for("import", client, gzip_level=level)


def test_import_dedupes_a_retry_after_store_then_500_and_a_resend(client: TDClient, emu: Emulator) -> None:
    sink = sink_for("import", client)
    events = [make_event(n) for n in range(20)]
    (batch,) = batches_of(sink, events)
    batch.key = "0123abcd" * 4
    emu.push_faults(Fault(store_then_status=500))
    result = sink.send(batch)
    assert (result.accepted, result.retries, result.requests) == (20, 1, 2)
    assert sink.send(batch).accepted == 20  # a task retry resends the whole batch
    assert emu.count(DB, TABLE) == 20
    assert ids_stored(emu, "import") == [event["id"] for event in events]


def test_import_404_without_create_table_says_how_to_fix_it(client: TDClient, emu: Emulator) -> None:
    sink = make_sink("import", client, database=DB, table=TABLE)
    with pytest.raises(TDNotFoundError, match="create_table=True"):
        deliver(sink, [make_event(1)])
    assert [entry["status"] for entry in emu.requests()] == [404]


def test_import_404_with_create_table_creates_and_delivers(client: TDClient, emu: Emulator) -> None:
    sink = make_sink("import", client, database=DB, table="braze_{event_type}", create_table=True)
    events = [make_event(1), make_event(2, "users.behaviors.CustomEvent")]
    assert sum(r.accepted for r in deliver(sink, events)) == 2
    assert emu.count(DB, "braze_users_messages_email_open") == emu.count(DB, "braze_users_behaviors_customevent") == 1
    assert [entry["status"] for entry in emu.requests()].count(404) == 2


def test_import_413_splits_into_deterministic_ids_so_a_rerun_still_dedupes(client: TDClient, emu: Emulator) -> None:
    sink = sink_for("import", client)
    events = [make_event(n) for n in range(10)]
    (batch,) = batches_of(sink, events)
    batch.key = "feed" * 8
    for _ in range(2):
        emu.push_faults(Fault(status=413))
        result = sink.send(batch)
        assert (result.accepted, result.requests) == (10, 3)
    assert emu.count(DB, TABLE) == 10
    paths = [entry["path"] for entry in data_requests(emu)]
    assert f"/{split_key(batch.key, 0)}/" in paths[1] and f"/{split_key(batch.key, 1)}/" in paths[2]


# --- ingest -----------------------------------------------------------------------------------------


def test_ingest_resends_only_the_rows_that_failed_retryably(client: TDClient, emu: Emulator) -> None:
    sink = sink_for("ingest", client)
    assert sink.limits.max_events == 500 and sink.limits.max_bytes == 5_000_000
    events = [make_event(n) for n in range(10)]
    emu.push_faults(Fault(kind="partial", fail_records=(0, 3)))
    (result,) = deliver(sink, events)
    assert (result.accepted, result.rejected, result.retries, result.requests) == (10, [], 1, 2)
    assert sorted(ids_stored(emu, "ingest")) == [event["id"] for event in events]
    first, second = (entry["body_bytes"] for entry in data_requests(emu))
    assert second < first / 3


def test_ingest_returns_non_retryable_rows_as_rejected(client: TDClient, emu: Emulator) -> None:
    sink = sink_for("ingest", client)
    receipts = [
        {"success": False, "error": {"name": "InvalidRecord", "description": "bad column", "retryable": False}},
        {"success": False, "error": {"name": "InternalError", "description": "try again", "retryable": True}},
    ]
    emu.push_faults(Fault(status=206, body={"receipts": receipts}))
    events = [make_event(0), make_event(1)]
    (result,) = deliver(sink, events)
    assert result.accepted == 1 and [(r.event["id"], r.reason) for r in result.rejected] == [
        ("evt-000000", "HTTP 206: InvalidRecord: bad column")
    ]
    assert ids_stored(emu, "ingest") == ["evt-000001"]


def test_ingest_gives_up_on_rows_that_keep_failing_and_says_so(emu: Emulator, http: requests.Session) -> None:
    sink = sink_for("ingest", client_for(emu.url, http, retry=TWO_TRIES))
    emu.push_faults(*[Fault(kind="partial", fail_records=(0,))] * 2)
    (result,) = deliver(sink, [make_event(n) for n in range(3)])
    assert result.accepted == 2 and [r.event["id"] for r in result.rejected] == ["evt-000000"]
    assert "not delivered" in result.rejected[0].reason and "after 2 attempts" in result.rejected[0].reason


def test_ingest_413_splits_and_delivers_everything(client: TDClient, emu: Emulator) -> None:
    sink = sink_for("ingest", client)
    events = [make_event(n) for n in range(600)]  # over records.in's 500-record limit: a real 413
    items = [sink.encode(event)[1] for event in events]
    result = sink.send(manual_batch(sink, items, events))
    assert (result.accepted, result.requests) == (600, 3)
    assert [entry["status"] for entry in data_requests(emu)] == [413, 200, 200]
    assert sorted(ids_stored(emu, "ingest")) == [event["id"] for event in events]


# --- every sink -------------------------------------------------------------------------------------

MODES = ["postback", "import", "ingest"]
BROKEN = {"postback": b'{"broken"', "import": b"\xc1", "ingest": b'{"broken"'}


@pytest.mark.parametrize("mode", MODES)
def test_400_isolates_the_bad_event_and_delivers_the_rest(client: TDClient, emu: Emulator, mode: str) -> None:
    sink = sink_for(mode, client)
    events = [make_event(n) for n in range(8)]
    items = [sink.encode(event)[1] for event in events]
    items[5] = BROKEN[mode]  # the server cannot parse the request while this item is in it
    result = sink.send(manual_batch(sink, items, events))
    assert result.accepted == 7 and [r.event["id"] for r in result.rejected] == ["evt-000005"]
    assert result.rejected[0].reason.startswith("HTTP 400: Invalid")
    assert sorted(ids_stored(emu, mode)) == [event["id"] for i, event in enumerate(events) if i != 5]
    assert result.requests == 7  # 8 -> 4 + 4 -> 2 + 2 -> 1 + 1, left halves first


@pytest.mark.parametrize("mode", MODES)
def test_422_bisects_with_the_servers_reason(client: TDClient, emu: Emulator, mode: str) -> None:
    sink = sink_for(mode, client)
    events = [make_event(n) for n in range(4)]
    bad = Fault(status=422, body={"error": "Unprocessable", "message": "time is in the future"})
    ok = Fault(kind="pass")
    emu.push_faults(bad, ok, bad, bad, ok)  # [0..3] [0,1] [2,3] [2] [3]
    (result,) = deliver(sink, events)
    assert result.accepted == 3 and [(r.event["id"], r.reason) for r in result.rejected] == [
        ("evt-000002", "HTTP 422: Unprocessable; time is in the future")
    ]


@pytest.mark.parametrize("mode", MODES)
def test_413_splits_and_resends_halves(client: TDClient, emu: Emulator, mode: str) -> None:
    sink = sink_for(mode, client)
    events = [make_event(n) for n in range(6)]
    emu.push_faults(Fault(status=413), Fault(kind="pass"), Fault(status=413))  # 6 -> 3 ok + 3 -> 1 + 2
    (result,) = deliver(sink, events)
    assert (result.accepted, result.rejected, result.requests) == (6, [], 5)
    assert sorted(ids_stored(emu, mode)) == [event["id"] for event in events]


def test_postback_over_the_body_limit_is_split_by_the_servers_own_413(client: TDClient, emu: Emulator) -> None:
    sink = make_sink("postback", client, database=DB, table=TABLE)
    events = [make_event(n, blob="y" * 400_000) for n in range(4)]
    items = [sink.encode(event)[1] for event in events]
    result = sink.send(manual_batch(sink, items, events))
    assert result.accepted == 4 and [entry["status"] for entry in emu.requests()] == [413, 200, 200]


def test_create_table_with_a_write_only_key_fails_with_the_permission_hint(http: requests.Session) -> None:
    with Emulator(api_keys=(KEY,), write_keys=(WRITE_KEY,)) as emu:
        client = client_for(emu.url, http, key=WRITE_KEY)
        sink = make_sink("import", client, database=DB, table=TABLE, create_table=True)
        with pytest.raises(TDAuthError, match="write-only key") as raised:
            deliver(sink, [make_event(1)])
        assert raised.value.status == 403 and WRITE_KEY not in str(raised.value)
        assert [entry["status"] for entry in emu.requests()] == [404, 403]


@pytest.mark.parametrize("mode", ["import", "ingest"])
def test_401_stops_at_once(mode: str, http: requests.Session) -> None:
    with Emulator(api_keys=(KEY,)) as emu:
        sink = make_sink(mode, client_for(emu.url, http, key=OTHER_KEY), database=DB, table=TABLE)
        with pytest.raises(TDAuthError, match="HTTP 401") as raised:
            deliver(sink, [make_event(1)])
        assert OTHER_KEY not in str(raised.value)
        assert [entry["status"] for entry in emu.requests()] == [401]


@pytest.mark.parametrize("mode", ["postback", "ingest"])
def test_non_idempotent_sinks_report_what_was_not_delivered_once_part_of_a_batch_was(
    emu: Emulator, http: requests.Session, mode: str
) -> None:
    sink = sink_for(mode, client_for(emu.url, http, retry=TWO_TRIES))
    events = [make_event(n) for n in range(4)]
    emu.push_faults(Fault(status=413), Fault(kind="pass"), Fault(status=503), Fault(status=503))
    (result,) = deliver(sink, events)
    assert result.accepted == 2
    assert [r.event["id"] for r in result.rejected] == ["evt-000002", "evt-000003"]
    assert all(r.reason.startswith("not delivered") for r in result.rejected)


@pytest.mark.parametrize("mode", MODES)
def test_a_batch_with_nothing_delivered_raises_the_transient_error(
    emu: Emulator, http: requests.Session, mode: str
) -> None:
    sink = sink_for(mode, client_for(emu.url, http, retry=TWO_TRIES))
    emu.push_faults(Fault(status=502), Fault(status=502))
    with pytest.raises(TDTransientError, match="after 2 attempts"):
        deliver(sink, [make_event(1)])


def test_the_idempotent_sink_raises_even_after_partial_progress(emu: Emulator, http: requests.Session) -> None:
    sink = sink_for("import", client_for(emu.url, http, retry=TWO_TRIES))
    emu.push_faults(Fault(status=413), Fault(kind="pass"), Fault(status=503), Fault(status=503))
    with pytest.raises(TDTransientError):
        deliver(sink, [make_event(n) for n in range(4)])


@pytest.mark.parametrize("mode", MODES)
def test_events_that_cannot_be_encoded_or_never_fit(client: TDClient, mode: str) -> None:
    sink = sink_for(mode, client)
    with pytest.raises(EventEncodeError):
        sink.encode(make_event(1, huge=2**70))
    with pytest.raises(EventEncodeError):
        sink.encode({"id": "x", "time": 1})
    route, item = sink.encode(make_event(1, blob="z" * (sink.limits.max_item_bytes + 1)))
    with pytest.raises(OversizeEvent):
        sink.batcher().add(route, item, {})


def test_make_sink_refuses_what_cannot_work(client: TDClient) -> None:
    with pytest.raises(ValueError, match="unknown delivery mode"):
        make_sink("carrier_pigeon", client, database=DB, table=TABLE)
    with pytest.raises(ValueError, match="needs a database and a table"):
        make_sink("import", client, database=DB)
    with pytest.raises(ValueError, match="only applies to the postback mode"):
        make_sink("ingest", client, database=DB, table=TABLE, postback_url="https://in.treasuredata.com/x")
    with pytest.raises(ValueError, match="exceed"):
        make_sink("ingest", client, database=DB, table=TABLE, limits=BatchLimits(501, 1000, 1000))
