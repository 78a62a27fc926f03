"""THE retry policy: what is retried, how long it waits, and that it always stops."""

from __future__ import annotations

import email.utils
import logging
import time

import pytest

from airflow_braze_td.treasure_data.errors import TDAuthError, TDTransientError
from airflow_braze_td.treasure_data.retry import RetryableError, RetryPolicy, parse_retry_after


class Flaky:
    """Fails `failures` times with a RetryableError, then returns "done"."""

    def __init__(self, failures: int, retry_after: float | None = None) -> None:
        self.failures, self.retry_after, self.calls = failures, retry_after, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RetryableError(f"HTTP 503 (call {self.calls})", retry_after=self.retry_after, status=503)
        return "done"


def test_parse_retry_after_seconds_and_http_dates() -> None:
    now = time.time()
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("-4") == 0.0
    for unusable in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(unusable) is None


def test_backoff_doubles_from_half_a_second_up_to_a_minute_with_jitter() -> None:
    policy = RetryPolicy()
    settings = (policy.max_attempts, policy.max_total_seconds, policy.initial_wait, policy.max_wait)
    assert settings == (7, 300.0, 0.5, 60.0)
    for retry, base in [(1, 0.5), (2, 1.0), (3, 2.0), (8, 60.0), (20, 60.0)]:
        waits = [policy.backoff(retry) for _ in range(200)]
        assert all(base / 2 <= wait <= base for wait in waits)
        assert len(set(waits)) > 1, "jittered"


def test_retries_until_success_and_counts_attempts(caplog: pytest.LogCaptureFixture) -> None:
    waits: list[float] = []
    policy = RetryPolicy(sleep=waits.append)
    caplog.set_level(logging.WARNING, logger="airflow_braze_td.treasure_data.retry")
    assert policy.run(Flaky(3), what="POST /x") == ("done", 4)
    assert len(waits) == 3 and waits[1] > waits[0] * 0.9
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert "POST /x failed: HTTP 503 (call 1); retry 1 of 6 in" in messages[0]


def test_gives_up_after_max_attempts() -> None:
    flaky = Flaky(100)
    with pytest.raises(TDTransientError, match="after 7 attempts") as raised:
        RetryPolicy(sleep=lambda _: None).run(flaky, what="PUT /y")
    assert flaky.calls == 7
    assert not raised.value.permanent and raised.value.status == 503


def test_gives_up_at_once_when_retry_after_overruns_the_time_budget() -> None:
    flaky = Flaky(100, retry_after=3600)
    slept: list[float] = []
    with pytest.raises(TDTransientError, match=r"the server asked for 3600\.0 s"):
        RetryPolicy(max_total_seconds=300, sleep=slept.append).run(flaky, what="POST /z")
    assert flaky.calls == 1 and slept == []


def test_total_time_bounds_the_retries() -> None:
    flaky = Flaky(100)
    started = time.monotonic()
    with pytest.raises(TDTransientError, match="budget"):
        RetryPolicy(max_attempts=1000, initial_wait=0.02, max_wait=0.02, max_total_seconds=0.2).run(flaky, what="x")
    assert time.monotonic() - started < 0.5 and 3 < flaky.calls < 20


def test_retry_after_is_honoured_over_the_backoff_settings() -> None:
    slept: list[float] = []
    RetryPolicy(initial_wait=0.001, max_wait=0.001, sleep=slept.append).run(Flaky(1, retry_after=7.0), what="x")
    assert slept == [7.0]


def test_other_errors_are_not_retried() -> None:
    calls = []

    def refused() -> None:
        calls.append(1)
        raise TDAuthError("bad key", status=401)

    with pytest.raises(TDAuthError):
        RetryPolicy(sleep=lambda _: None).run(refused, what="x")
    assert calls == [1]


def test_policy_settings_are_validated() -> None:
    for bad in ({"max_attempts": 0}, {"max_total_seconds": 0}, {"initial_wait": 2, "max_wait": 1}, {"jitter": 2}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
