"""The event filter's one rule, asked of one event (`reason_to_drop`) or of many held as columns (`reasons`)."""

from __future__ import annotations

import itertools

import pytest

from airflow_braze_td.delivery.filters import (
    FILTERED_EVENT_TYPE,
    FILTERED_NO_EXTERNAL_ID,
    FILTERED_WINDOW,
    EventFilter,
)

OPEN = "users.messages.email.Open"
EXTERNAL_IDS = ["x", None, "", "y", None, "z"]
TIMES = [5, 10, 15, 20, 25, 30]
FILTERS = [EventFilter(event_types=types, require_external_user_id=need, since=since, until=until)
           for types, need, since, until in itertools.product(
               [(), ("users.messages.email.*",), ("users.behaviors.*",)], [True, False], [None, 15], [None, 25])]


@pytest.mark.parametrize("event_filter", FILTERS, ids=repr)
@pytest.mark.parametrize("external_ids", [EXTERNAL_IDS, None], ids=["with-field", "without-field"])
def test_many_events_at_once_get_the_reasons_each_gets_alone(event_filter: EventFilter, external_ids) -> None:
    alone = [event_filter.reason_to_drop({"event_type": OPEN, "time": time,
                                          "user": {} if external_ids is None else {"external_user_id": external}})
             for external, time in zip(external_ids or [None] * len(TIMES), TIMES)]
    assert event_filter.reasons(OPEN, external_ids, TIMES) == alone


def test_each_reason_is_given() -> None:
    assert EventFilter(event_types=("users.behaviors.*",)).reasons(OPEN, EXTERNAL_IDS, TIMES) == [
        FILTERED_EVENT_TYPE] * 6
    assert EventFilter(since=15, until=25).reasons(OPEN, EXTERNAL_IDS, TIMES) == [
        FILTERED_WINDOW, FILTERED_NO_EXTERNAL_ID, FILTERED_NO_EXTERNAL_ID, None, FILTERED_NO_EXTERNAL_ID,
        FILTERED_WINDOW]
    assert EventFilter().reasons(OPEN, None, TIMES) == [FILTERED_NO_EXTERNAL_ID] * 6
    assert EventFilter(require_external_user_id=False).reasons(OPEN, None, TIMES) == [None] * 6
