"""Injected failures: a FIFO queue of scripted faults plus an optional seeded chaos mode.

Clients are only as good as their handling of 429s, 5xx, resets, slow answers and "stored but the
answer was lost", so the emulator can produce each of them on demand, deterministically or at random.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_CHAOS_KINDS = ("429", "429_retry_after", "500", "502", "503", "reset", "slow", "store_then_500")
CHAOS_KINDS = (*DEFAULT_CHAOS_KINDS, "partial")
INGEST_FAMILY = "ingest"


@dataclass(frozen=True)
class Fault:
    """One injected failure; applied in order: delay, then reset | status | store_then_status."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    reset: bool = False
    store_then_status: int | None = None
    body: dict[str, Any] | None = None
    kind: str = ""
    path_prefix: str | None = None
    fail_records: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fail_records", tuple(int(i) for i in self.fail_records))
        if self.retry_after is not None:
            object.__setattr__(self, "retry_after", str(self.retry_after))
        if not self.kind:
            object.__setattr__(self, "kind", self._default_kind())

    def _default_kind(self) -> str:
        if self.reset:
            return "reset"
        if self.status is not None:
            return f"{self.status}_retry_after" if self.retry_after is not None else str(self.status)
        if self.store_then_status is not None:
            return f"store_then_{self.store_then_status}"
        if self.fail_records:
            return "partial"
        return "slow" if self.delay else "noop"

    @classmethod
    def http(cls, status: int, retry_after: str | int | None = None, **extra: Any) -> Fault:
        """Answer `status` without processing the request."""
        return cls(status=status, retry_after=None if retry_after is None else str(retry_after), **extra)

    @classmethod
    def connection_reset(cls, **extra: Any) -> Fault:
        """Close the socket with an RST and no response."""
        return cls(reset=True, **extra)

    @classmethod
    def slow(cls, seconds: float, **extra: Any) -> Fault:
        """Answer normally, but only after `seconds`."""
        return cls(delay=seconds, **extra)

    @classmethod
    def store_then(cls, status: int = 500, **extra: Any) -> Fault:
        """Store the rows, then answer `status`: the reply was lost but the data landed."""
        return cls(store_then_status=status, **extra)

    @classmethod
    def partial(cls, *indices: int, **extra: Any) -> Fault:
        """Fail the given records of a Data Ingestion request retryably (206)."""
        return cls(fail_records=tuple(indices), **extra)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Fault:
        """Build a fault from its JSON form (the dataclass field names); rejects unknown fields."""
        known = {f.name for f in fields(cls)}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        values = dict(spec)
        if "fail_records" in values:
            values["fail_records"] = tuple(values["fail_records"])
        return cls(**values)

    def matches(self, path: str) -> bool:
        return self.path_prefix is None or path.startswith(self.path_prefix)


def chaos_fault(kind: str, slow_seconds: float, retry_after: str) -> Fault:
    """The fault that chaos mode injects for `kind`."""
    if kind == "429_retry_after":
        return Fault(status=429, retry_after=retry_after, kind=kind)
    if kind == "reset":
        return Fault(reset=True, kind=kind)
    if kind == "slow":
        return Fault(delay=slow_seconds, kind=kind)
    if kind == "partial":
        return Fault(fail_records=(0,), kind=kind)
    status = kind.removeprefix("store_then_")
    if status.isdigit() and 400 <= int(status) <= 599:
        if kind.startswith("store_then_"):
            return Fault(store_then_status=int(status), kind=kind)
        return Fault(status=int(status), kind=kind)
    raise ValueError(f"unknown chaos fault kind {kind!r}; known: {', '.join(CHAOS_KINDS)}")


@dataclass
class _Chaos:
    rate: float = 0.0
    kinds: tuple[str, ...] = DEFAULT_CHAOS_KINDS
    slow_seconds: float = 0.2
    retry_after: str = "1"
    rng: random.Random = field(default_factory=random.Random)


class FaultInjector:
    """Thread-safe source of the fault (if any) for each incoming request, and a tally of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._chaos = _Chaos()
        self._counts: Counter[str] = Counter()
        self._delaying = 0
        self._most_delaying = 0

    def push(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._queue.extend(faults)

    def set_chaos(
        self,
        rate: float,
        kinds: Iterable[str] = DEFAULT_CHAOS_KINDS,
        seed: int | None = None,
        slow_seconds: float = 0.2,
        retry_after: str | int = "1",
    ) -> None:
        """Inject a random fault into `rate` of the requests; rate=0 turns chaos off."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        kinds = tuple(kinds)
        for kind in kinds:
            chaos_fault(kind, slow_seconds, str(retry_after))
        if rate and not kinds:
            raise ValueError("chaos mode needs at least one kind")
        with self._lock:
            self._chaos = _Chaos(rate, kinds, slow_seconds, str(retry_after), random.Random(seed))

    def next_fault(self, path: str, family: str | None) -> Fault | None:
        """Pop the first queued fault that applies to `path`, else maybe a chaos fault; count it."""
        with self._lock:
            fault = self._pop_queued(path) or self._roll_chaos(family)
            if fault is not None:
                self._counts[fault.kind] += 1
            return fault

    def _pop_queued(self, path: str) -> Fault | None:
        for index, fault in enumerate(self._queue):
            if fault.matches(path):
                del self._queue[index]
                return fault
        return None

    def _roll_chaos(self, family: str | None) -> Fault | None:
        chaos = self._chaos
        if not chaos.rate or chaos.rng.random() >= chaos.rate:
            return None
        kind = chaos.rng.choice(chaos.kinds)
        if kind == "partial" and family != INGEST_FAMILY:
            return None
        return chaos_fault(kind, chaos.slow_seconds, chaos.retry_after)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def delay(self, seconds: float) -> None:
        """Hold a request `seconds`, keeping count of how many are held at once (see `most_delayed_at_once`)."""
        with self._lock:
            self._delaying += 1
            self._most_delaying = max(self._most_delaying, self._delaying)
        try:
            time.sleep(seconds)
        finally:
            with self._lock:
                self._delaying -= 1

    def most_delayed_at_once(self) -> int:
        """The most requests held by slow faults at the same moment: how many a client had in flight."""
        with self._lock:
            return self._most_delaying

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._chaos = _Chaos()
            self._counts.clear()
            self._most_delaying = 0
