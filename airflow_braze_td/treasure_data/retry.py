"""THE retry policy, one for every sink and every control-plane call (treasure-data.md §5).

429 waits what `Retry-After` says (seconds or an HTTP date), anything else transient (5xx, a reset
connection, a timeout, a partial 206 with retryable rows) waits an exponential backoff with jitter:
0.5 s doubling up to 60 s, as td-client-java does. Two bounds stop it: a number of attempts and a total
time, so nothing is retried forever. A `Retry-After` that would overrun the time budget gives up at once
instead of sleeping past it. 4xx other than 429 never reach this module as retryable.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import TypeVar

import tenacity

from airflow_braze_td.treasure_data.errors import TDTransientError

log = logging.getLogger(__name__)

T = TypeVar("T")


class RetryableError(Exception):
    """One failed attempt worth repeating; `retry_after` is the server's requested wait in seconds."""

    def __init__(self, reason: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP date); None when unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with backoff; tests pass small waits (and may pass `sleep`) to stay fast.

    `Retry-After` is always honoured as sent, whatever the backoff settings, so a test can show that a
    `Retry-After: 1` really costs a second while the backoff waits stay at milliseconds.
    """

    max_attempts: int = 7
    max_total_seconds: float = 300.0
    initial_wait: float = 0.5
    max_wait: float = 60.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_total_seconds <= 0 or self.initial_wait < 0 or self.max_wait < self.initial_wait:
            raise ValueError("need max_total_seconds > 0 and 0 <= initial_wait <= max_wait")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is the random share of each wait, between 0 and 1")

    def backoff(self, retry_number: int) -> float:
        """Wait before retry `retry_number` (1-based): doubling from `initial_wait`, capped, jittered."""
        base = min(self.max_wait, self.initial_wait * 2.0 ** (retry_number - 1))
        return base * (1.0 - self.jitter) + random.uniform(0.0, base * self.jitter)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return retry_after if retry_after is not None else self.backoff(state.attempt_number)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        return (
            state.attempt_number >= self.max_attempts
            or state.seconds_since_start + state.upcoming_sleep > self.max_total_seconds
        )

    def _log_retry(self, what: str, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        told = " (Retry-After)" if getattr(exc, "retry_after", None) is not None else ""
        log.warning(
            "Treasure Data %s failed: %s; retry %d of %d in %.2f s%s",
            what,
            getattr(exc, "reason", exc),
            state.attempt_number,
            self.max_attempts - 1,
            state.upcoming_sleep,
            told,
        )

    def run(self, attempt: Callable[[], T], *, what: str) -> tuple[T, int]:
        """Call `attempt` until it returns; give `(value, attempts)` or raise `TDTransientError`.

        Only `RetryableError` is retried; any other exception passes straight through. `what` names
        the call in logs and errors ("POST /path") and must not carry a secret.
        """
        attempts = 0
        started = time.monotonic()

        def counted() -> T:
            nonlocal attempts
            attempts += 1
            return attempt()

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableError),
            wait=self._wait,
            stop=self._stop,
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(what, state),
            reraise=True,
        )
        try:
            return retrying(counted), attempts
        except RetryableError as exc:
            elapsed = time.monotonic() - started
            if attempts < self.max_attempts:
                why = f"the next wait would pass the {self.max_total_seconds:g} s budget"
                if exc.retry_after is not None:
                    why += f" (the server asked for {exc.retry_after:.1f} s)"
            else:
                why = f"all {self.max_attempts} attempts used"
            log.error(
                "Treasure Data %s: giving up after %d attempts in %.1f s: %s", what, attempts, elapsed, exc.reason
            )
            raise TDTransientError(
                f"Treasure Data {what} still failing after {attempts} attempts in {elapsed:.1f} s ({why}): "
                f"{exc.reason}. The service may be down or throttling; a later try of the task can resume.",
                status=exc.status,
                detail=exc.reason,
            ) from exc
