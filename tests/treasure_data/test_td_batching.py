"""THE batcher: count and byte limits per route, exact body sizes, oversize events refused."""

from __future__ import annotations

import itertools
import random

import pytest

from airflow_braze_td.delivery.batching import Batch, Batcher, BatchLimits, OversizeEvent

ENVELOPE_OPEN, ENVELOPE_CLOSE = b'{"events":[', b"]}"


def body(batch: Batch) -> bytes:
    return ENVELOPE_OPEN + b",".join(batch.items) + ENVELOPE_CLOSE


def test_closes_a_batch_on_the_event_that_fills_it() -> None:
    batcher = Batcher(BatchLimits(max_events=3, max_bytes=10_000, max_item_bytes=1_000), 13, 1)
    assert not batcher.add("t", b"{}", {"n": 0})
    assert not batcher.add("t", b"{}", {"n": 1})
    closed = batcher.add("t", b"{}", {"n": 2})
    assert [(batch.route, batch.index, len(batch), batch.key) for batch in closed] == [("t", 0, 3, "")]
    assert closed[0].events == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert batcher.pending() == 0 and batcher.flush() == []


def test_byte_limit_counts_envelope_and_separators_exactly() -> None:
    rng = random.Random(7)
    limits = BatchLimits(max_events=1_000, max_bytes=2_000, max_item_bytes=500)
    batcher = Batcher(limits, envelope_bytes=13, separator_bytes=1)
    items = [b"x" * rng.randint(1, 500) for _ in range(500)]
    batches: list[Batch] = []
    for number, item in enumerate(items):
        batches.extend(batcher.add("t", item, {"n": number}))
    batches.extend(batcher.flush())
    assert [item for batch in batches for item in batch.items] == items
    for batch in batches:
        assert batch.nbytes == len(body(batch)) <= limits.max_bytes
    for before, after in itertools.pairwise(batches):
        assert before.nbytes + 1 + len(after.items[0]) > limits.max_bytes, "closed too early"


def test_routes_batch_separately_and_indexes_follow_closing_order() -> None:
    batcher = Batcher(BatchLimits(2, 10_000, 1_000))
    out: list[Batch] = []
    for number, route in enumerate(["a", "b", "a", "c", "b", "c", "a"]):
        out.extend(batcher.add(route, b"i", {"n": number}))
    out.extend(batcher.flush())
    assert [(batch.route, batch.index, [event["n"] for event in batch.events]) for batch in out] == [
        ("a", 0, [0, 2]), ("b", 1, [1, 4]), ("c", 2, [3, 5]), ("a", 3, [6]),
    ]


def test_an_oversize_item_is_refused_and_never_batched() -> None:
    batcher = Batcher(BatchLimits(10, 100, 50), envelope_bytes=13, separator_bytes=1)
    batcher.add("t", b"ok", {})
    with pytest.raises(OversizeEvent, match="over this sink's limit of 50 per event") as raised:
        batcher.add("t", b"x" * 51, {})
    assert "51 bytes" in raised.value.reason
    tight = Batcher(BatchLimits(10, 60, 60), envelope_bytes=13, separator_bytes=1)
    with pytest.raises(OversizeEvent, match="envelope"):
        tight.add("t", b"x" * 48, {})
    assert tight.add("t", b"x" * 47, {}) == ()
    assert batcher.pending() == 1 and tight.pending() == 1


def test_limits_and_envelope_are_checked() -> None:
    with pytest.raises(ValueError):
        BatchLimits(0, 10, 10)
    with pytest.raises(ValueError, match="no room"):
        Batcher(BatchLimits(1, 13, 13), envelope_bytes=13)


def _shape(batches: list[Batch]) -> list[tuple]:
    return [(batch.route, batch.index, batch.items, batch.events, batch.nbytes) for batch in batches]


@pytest.mark.parametrize("seed", range(6))
def test_adding_a_block_at_once_batches_as_adding_each_item(seed: int) -> None:
    """`add_all` of runs of items, on several routes and mixed with single adds, closes the same batches,
    in the same order, as `add` of every item, and leaves the same batches open."""
    rng = random.Random(seed)
    limits = BatchLimits(max_events=rng.choice([1, 3, 100]), max_bytes=rng.choice([60, 400, 10_000]),
                         max_item_bytes=40)
    one_by_one, at_once = Batcher(limits, 13, 1), Batcher(limits, 13, 1)
    expected: list[Batch] = []
    found: list[Batch] = []
    number = 0
    for _ in range(40):
        route = rng.choice("abc")
        items = [b"x" * rng.randint(1, 40) for _ in range(rng.randint(0, 12))]
        events = [{"n": number + offset} for offset in range(len(items))]
        number += len(items)
        for item, event in zip(items, events, strict=True):
            expected.extend(one_by_one.add(route, item, event))
        if len(items) == 1 and rng.random() < 0.5:
            found.extend(at_once.add(route, items[0], events[0]))
        else:
            found.extend(at_once.add_all(route, items, events))
        assert one_by_one.pending() == at_once.pending()
    expected.extend(one_by_one.flush())
    found.extend(at_once.flush())
    assert _shape(found) == _shape(expected)
    assert len(expected) > 3


def test_a_block_with_an_oversize_item_is_refused_whole() -> None:
    batcher = Batcher(BatchLimits(10, 100, 50), envelope_bytes=13, separator_bytes=1)
    batcher.add("t", b"ok", {})
    with pytest.raises(OversizeEvent, match="51 bytes"):
        batcher.add_all("t", [b"a", b"x" * 51, b"b"], [{}, {}, {}])
    assert batcher.pending() == 1
