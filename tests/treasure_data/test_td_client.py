"""TDClient against the emulator: the control plane and every status code of treasure-data.md §5."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Iterator

import pytest
import requests

from airflow_braze_td.emulator import Emulator, Fault
from airflow_braze_td.treasure_data.client import TDClient
from airflow_braze_td.treasure_data.errors import (
    LOSS_WINDOW_HINT,
    TDAuthError,
    TDBadRequestError,
    TDInvalidNameError,
    TDNotFoundError,
    TDProtocolError,
    TDTransientError,
)
from airflow_braze_td.treasure_data.retry import RetryPolicy
from tests.treasure_data.td_helpers import KEY, OTHER_KEY, WRITE_KEY, client_for


@pytest.fixture
def keyed() -> Iterator[Emulator]:
    with Emulator(api_keys=(KEY,), write_keys=(WRITE_KEY,)) as emulator:
        yield emulator


def statuses(emu: Emulator) -> list[int | None]:
    return [entry["status"] for entry in emu.requests()]


def test_control_plane_creates_lists_and_shows_treating_409_as_success(client: TDClient, emu: Emulator) -> None:
    assert client.create_database("braze") is True
    assert client.create_database("braze") is False
    assert client.create_table("braze", "events") is True
    assert client.create_table("braze", "events") is False
    client.ensure_table("braze", "events")
    client.ensure_table("other_db", "more_events")
    assert {db["name"] for db in client.list_databases()} == {"braze", "other_db"}
    assert [table["name"] for table in client.list_tables("braze")] == ["events"]
    assert client.show_table("braze", "events")["name"] == "events"
    assert 409 in statuses(emu)


def test_bad_names_are_refused_before_any_request(client: TDClient, emu: Emulator) -> None:
    with pytest.raises(TDInvalidNameError):
        client.create_table("braze", "Bad-Table")
    assert emu.requests() == []


def test_404_says_what_is_missing_and_how_to_create_it(client: TDClient) -> None:
    with pytest.raises(TDNotFoundError, match="create_table=True") as raised:
        client.show_table("braze", "events")
    assert raised.value.status == 404 and "does not exist" in str(raised.value)


def test_401_stops_at_once_and_tells_what_to_fix(keyed: Emulator, http: requests.Session) -> None:
    client = client_for(keyed.url, http, key=OTHER_KEY)
    with pytest.raises(TDAuthError) as raised:
        client.list_databases()
    text = str(raised.value)
    assert "HTTP 401" in text and "password" in text and "region" in text and LOSS_WINDOW_HINT in text
    assert OTHER_KEY not in text and OTHER_KEY not in repr(raised.value)
    assert statuses(keyed) == [401]


def test_403_for_a_write_only_key_explains_permissions(keyed: Emulator, http: requests.Session) -> None:
    client = client_for(keyed.url, http, key=WRITE_KEY)
    with pytest.raises(TDAuthError, match="write-only key") as raised:
        client.create_database("braze")
    assert raised.value.status == 403 and WRITE_KEY not in str(raised.value)
    assert statuses(keyed) == [403]


@pytest.mark.parametrize("status", [400, 422])
def test_400_and_422_are_not_retried(client: TDClient, emu: Emulator, status: int) -> None:
    emu.push_faults(Fault(status=status, body={"error": "InvalidRecord", "message": "column time is not an integer"}))
    with pytest.raises(TDBadRequestError, match="column time is not an integer") as raised:
        client.list_databases()
    assert raised.value.status == status and statuses(emu) == [status]


def test_a_redirect_is_not_followed(client: TDClient, emu: Emulator) -> None:
    emu.push_faults(Fault(status=302))
    with pytest.raises(TDProtocolError, match="wrong region or host"):
        client.list_databases()
    assert statuses(emu) == [302]


def test_429_waits_the_retry_after_seconds(client: TDClient, emu: Emulator) -> None:
    emu.push_faults(Fault(status=429, retry_after="1"))
    started = time.monotonic()
    client.list_databases()
    assert time.monotonic() - started >= 1.0
    assert statuses(emu) == [429, 200]


def test_429_waits_until_a_retry_after_http_date(client: TDClient, emu: Emulator) -> None:
    emu.push_faults(Fault(status=429, retry_after=email.utils.formatdate(time.time() + 2, usegmt=True)))
    started = time.monotonic()
    client.list_databases()
    assert time.monotonic() - started >= 1.0  # the date has one-second resolution
    assert statuses(emu) == [429, 200]


def test_429_without_retry_after_backs_off(client: TDClient, emu: Emulator) -> None:
    emu.push_faults(Fault(status=429), Fault(status=429))
    started = time.monotonic()
    client.list_databases()
    assert time.monotonic() - started < 0.5 and statuses(emu) == [429, 429, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_and_logged(
    client: TDClient, emu: Emulator, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    emu.push_faults(Fault(status=status), Fault(status=status))
    assert client.list_databases() == []
    assert statuses(emu) == [status, status, 200]
    retries = [r.getMessage() for r in caplog.records if r.name == "airflow_braze_td.treasure_data.retry"]
    assert len(retries) == 2 and f"GET /v3/database/list failed: HTTP {status}" in retries[0]


def test_a_reset_connection_is_retried(client: TDClient, emu: Emulator) -> None:
    emu.push_faults(Fault(reset=True))
    client.create_database("braze")
    assert statuses(emu) == [None, 200]


def test_a_read_timeout_is_retried(emu: Emulator, http: requests.Session) -> None:
    client = client_for(emu.url, http, timeout=(2.0, 0.3))
    emu.push_faults(Fault(delay=1.0))
    started = time.monotonic()
    assert client.list_databases() == []
    assert time.monotonic() - started < 1.0
    assert len(emu.requests()) in (1, 2)  # the slow one is logged once the emulator gets to answer it


def test_persistent_failure_gives_up_after_the_attempt_bound(emu: Emulator, http: requests.Session) -> None:
    client = client_for(emu.url, http, retry=RetryPolicy(max_attempts=4, initial_wait=0.001, max_wait=0.002))
    emu.push_faults(*[Fault(status=503)] * 10)
    with pytest.raises(TDTransientError, match=r"after 4 attempts.*HTTP 503"):
        client.list_databases()
    assert statuses(emu) == [503] * 4


def test_server_text_never_brings_the_key_into_an_error(client: TDClient, emu: Emulator) -> None:
    emu.push_faults(Fault(status=400, body={"error": "BadKey", "message": f"key {KEY} is malformed"}))
    with pytest.raises(TDBadRequestError) as raised:
        client.list_databases()
    assert KEY not in str(raised.value) and "key *** is malformed" in str(raised.value)
    assert KEY not in repr(client)


def test_the_client_refuses_an_empty_key(http: requests.Session, emu: Emulator) -> None:
    with pytest.raises(ValueError, match="API key"):
        client_for(emu.url, http, key="")


def test_a_429_pauses_every_request_of_the_client_not_only_the_one_that_got_it(emu: Emulator,
                                                                             http: requests.Session) -> None:
    """Request A gets 429 with Retry-After 0.3; request B, sent meanwhile by another thread of the same task,
    waits out that pause before it goes; once it has passed, nothing waits."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    client = client_for(emu.url, http, retry=RetryPolicy(max_attempts=1, initial_wait=0.01, max_wait=0.05,
                                                        sleep=sleep))
    client.ensure_table("braze", "events")
    emu.push_faults(Fault.http(429, retry_after="0.3"))
    url = client.url("postback", "/postback/v3/event/braze/events")
    with pytest.raises(TDTransientError):
        client.request("POST", url, body=b'{"n": 1}', headers={"Content-Type": "application/json"})
    assert waits == []
    client.send_once("POST", url, body=b'{"n": 2}', headers={"Content-Type": "application/json"})
    assert len(waits) == 1 and 0.1 < waits[0] <= 0.3
    client.send_once("POST", url, body=b'{"n": 3}', headers={"Content-Type": "application/json"})
    assert len(waits) == 1
    assert statuses(emu)[-3:] == [429, 200, 200]


def test_the_session_keeps_a_connection_per_request_in_flight(emu: Emulator, http: requests.Session) -> None:
    client = client_for(emu.url, http)
    client.reserve_connections(24)
    assert http.get_adapter("http://x").poolmanager.connection_pool_kw["maxsize"] == 24
    client.reserve_connections(4)
    assert http.get_adapter("https://x").poolmanager.connection_pool_kw["maxsize"] == 24
