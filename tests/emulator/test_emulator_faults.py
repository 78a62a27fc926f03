"""Injected failures: FIFO queue, each kind's effect on the wire, chaos mode."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from airflow_braze_td.emulator import DEFAULT_CHAOS_KINDS, Emulator, Fault
from tests.emulator.conftest import TDClient


def test_faults_are_served_in_order_and_not_processed(emu, td):
    emu.push_faults(Fault.http(429, retry_after=7), Fault(status=503, body={"error": "busy", "message": "later"}))
    throttled = td.postback("flt_db", "events", {"n": 1})
    unavailable = td.postback("flt_db", "events", {"n": 2})
    ok = td.postback("flt_db", "events", {"n": 3})
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert set(throttled.json()) == {"error", "message"}
    assert (unavailable.status_code, unavailable.json()) == (503, {"error": "busy", "message": "later"})
    assert "Retry-After" not in unavailable.headers
    assert ok.status_code == 200
    assert emu.rows("flt_db", "events") == [{"n": 3}]
    assert emu.fault_counts() == {"429_retry_after": 1, "503": 1}
    assert [entry["fault"] for entry in emu.requests()] == ["429_retry_after", "503", None]


def test_retry_after_may_be_an_http_date(emu, td):
    emu.push_faults(Fault(status=429, retry_after="Wed, 21 Oct 2037 07:28:00 GMT"))
    assert td.postback("flt_db", "events", {"n": 1}).headers["Retry-After"] == "Wed, 21 Oct 2037 07:28:00 GMT"


def test_path_prefix_limits_which_requests_consume_a_fault(emu, td, msgpack_gz):
    td.create_table("flt_db", "events")
    emu.push_faults(Fault.http(500, path_prefix="/v3/table/import"))
    assert td.postback("flt_db", "events", {"n": 1}).status_code == 200
    assert td.import_rows("flt_db", "events", msgpack_gz([{"n": 2}]), unique_id="aa").status_code == 500
    assert td.import_rows("flt_db", "events", msgpack_gz([{"n": 2}]), unique_id="aa").status_code == 200
    assert emu.count("flt_db", "events") == 2


def test_reset_closes_the_connection_without_an_answer(emu, td, session):
    emu.push_faults(Fault.connection_reset())
    with pytest.raises(requests.ConnectionError) as raised:
        td.postback("flt_db", "events", {"n": 1})
    assert "reset" in str(raised.value).lower()
    assert td.postback("flt_db", "events", {"n": 2}).status_code == 200
    assert emu.rows("flt_db", "events") == [{"n": 2}]
    assert emu.requests()[0]["status"] is None and emu.requests()[0]["fault"] == "reset"


def test_slow_answer_is_delayed_then_processed(emu, td):
    emu.push_faults(Fault.slow(0.3), Fault.slow(0.5))
    started = time.monotonic()
    assert td.postback("flt_db", "events", {"n": 1}).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.ReadTimeout):
        td.postback("flt_db", "events", {"n": 2}, timeout=0.1)
    assert emu.fault_counts() == {"slow": 2}


def test_store_then_500_stores_and_a_retried_import_is_deduplicated(emu, td, msgpack_gz):
    td.create_table("flt_db", "events")
    emu.push_faults(Fault.store_then(500))
    body = msgpack_gz([{"n": 1}, {"n": 2}])
    assert td.import_rows("flt_db", "events", body, unique_id="beef").status_code == 500
    assert emu.count("flt_db", "events") == 2
    assert td.import_rows("flt_db", "events", body, unique_id="beef").status_code == 200
    assert emu.count("flt_db", "events") == 2
    assert emu.fault_counts() == {"store_then_500": 1}


def test_store_then_status_on_postback_stores_the_row(emu, td):
    emu.push_faults(Fault(store_then_status=502))
    assert td.postback("flt_db", "events", {"n": 1}).status_code == 502
    assert emu.rows("flt_db", "events") == [{"n": 1}]


def test_admin_requests_never_consume_faults(emu, td):
    emu.push_faults(Fault.http(500))
    assert td.admin("GET", "health").json()["pending_faults"] == 1
    assert td.admin("GET", "count/flt_db/events").status_code == 200
    assert td.postback("flt_db", "events", {"n": 1}).status_code == 500


def test_chaos_mode_is_seeded_and_switchable():
    def statuses(seed: int) -> list[int]:
        with Emulator() as chaotic, requests.Session() as session:
            chaotic.random_faults(rate=0.5, kinds=("429", "503"), seed=seed)
            url = f"{chaotic.url}/postback/v3/event/flt_db/events"
            headers = {"X-TD-Write-Key": "1/" + "a" * 40}
            codes = [session.post(url, json={"n": n}, headers=headers).status_code for n in range(40)]
            injected = sum(chaotic.fault_counts().values())
            assert injected == 40 - codes.count(200) == 40 - chaotic.count("flt_db", "events")
            chaotic.random_faults(rate=0)
            assert session.post(url, json={}, headers=headers).status_code == 200
            return codes

    first = statuses(seed=7)
    assert first == statuses(seed=7)
    assert {200, 429, 503} == set(first)


def test_chaos_with_every_default_kind(emu, td):
    emu.random_faults(rate=1.0, seed=3, slow_seconds=0.01)
    outcomes = []
    for n in range(40):
        try:
            outcomes.append(td.postback("flt_db", "events", {"n": n}).status_code)
        except requests.ConnectionError:
            outcomes.append("reset")
    counts = emu.fault_counts()
    assert sum(counts.values()) == 40
    assert set(counts) == set(DEFAULT_CHAOS_KINDS)
    assert outcomes.count("reset") == counts["reset"]
    assert emu.count("flt_db", "events") == counts["slow"] + counts["store_then_500"]


def test_chaos_rejects_unknown_kinds_and_bad_rates(emu):
    with pytest.raises(ValueError):
        emu.random_faults(rate=0.1, kinds=("418_teapot_party",))
    with pytest.raises(ValueError):
        emu.random_faults(rate=0.1, kinds=("5",))
    with pytest.raises(ValueError):
        emu.random_faults(rate=1.5)


def test_fault_spec_names_and_defaults():
    assert Fault.from_spec({"status": 429, "retry_after": 3}).retry_after == "3"
    assert Fault.from_spec({"status": 429, "retry_after": 3}).kind == "429_retry_after"
    assert Fault.from_spec({"fail_records": [1]}).fail_records == (1,)
    assert Fault(reset=True).kind == "reset"
    with pytest.raises(ValueError):
        Fault.from_spec({"status": 500, "colour": "red"})


def test_latency_holds_every_data_request_without_holding_the_others(session):
    """Five postbacks sent at once are held at once (one thread per connection); control calls are not held."""
    with Emulator(latency=0.3) as emu:
        td = TDClient(emu.url, session)
        td.create_table("lat_db", "events")
        assert emu.most_delayed_at_once() == 0
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda n: TDClient(emu.url, requests.Session()).postback(
                "lat_db", "events", {"n": n}), range(5)))
        assert [answer.status_code for answer in answers] == [200] * 5
        assert emu.most_delayed_at_once() == 5
        assert sorted(row["n"] for row in emu.rows("lat_db", "events")) == list(range(5))
