"""Normalisation to the Custom HTTP shape, event-type patterns and window selection."""

from __future__ import annotations

import pendulum
import pytest

from airflow_braze_td.currents.events import EventTypeSelector, InvalidEvent, normalise_http_event, normalise_record
from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import Listing
from airflow_braze_td.currents.layout import parse_key


def test_record_splits_into_user_and_properties_and_drops_nulls() -> None:
    record = {"id": "a", "time": 5, "user_id": "u", "external_user_id": None, "timezone": "UTC", "campaign_name": "c",
              "brand_new_field": [1, 2], "send_id": None}
    event = normalise_record(record, "users.messages.email.Open")
    assert event == {
        "event_type": "users.messages.email.Open",
        "id": "a",
        "time": 5,
        "user": {"user_id": "u", "timezone": "UTC"},
        "properties": {"campaign_name": "c", "brand_new_field": [1, 2]},
    }


def test_null_user_id_and_no_user_fields() -> None:
    assert normalise_record({"id": "a", "time": 1, "user_id": None}, "users.messages.sms.InboundReceive")["user"] == {}
    event = normalise_record({"id": "b", "time": 2, "tool": "x"}, "agentconsole.ToolInvocation")
    assert event["user"] == {} and event["properties"] == {"tool": "x"}


def test_custom_event_and_purchase_properties_become_objects() -> None:
    custom = normalise_record({"id": "a", "time": 1, "properties": '{"k": [1]}'}, "users.behaviors.CustomEvent")
    assert custom["properties"] == {"custom_properties": {"k": [1]}}
    purchase = normalise_record({"id": "a", "time": 1, "properties": "{}"}, "users.behaviors.Purchase")
    assert purchase["properties"] == {"purchase_properties": {}}


@pytest.mark.parametrize(
    ("record", "message"),
    [({"time": 1}, "no string `id`"), ({"id": "x", "time": "12"}, "not integer"), ({"id": "x", "time": 1.5}, "not integer"),
     ({"id": "x", "time": True}, "not integer")],
)
def test_invalid_records_are_rejected_with_a_reason(record: dict, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        normalise_record(record, "users.messages.email.Open")


def test_http_event_is_cleaned_and_singular_type_normalised() -> None:
    event = normalise_http_event(
        {"event_type": "users.message.email.Open", "id": "a", "time": 3, "user": {"user_id": None, "external_user_id": "e"},
         "properties": {"x": None, "y": 1}, "extra_top_level": 1}
    )
    assert event == {"event_type": "users.messages.email.Open", "id": "a", "time": 3,
                     "user": {"external_user_id": "e"}, "properties": {"y": 1}}


def test_event_type_patterns() -> None:
    selector = EventTypeSelector(["users.message.email.*", "users.behaviors.Purchase"])
    assert selector("users.messages.email.Open")
    assert selector("users.messages.email.Click")
    assert selector("users.behaviors.Purchase")
    assert not selector("users.behaviors.PurchaseX")
    assert not selector("users.messages.pushnotification.Send")
    assert EventTypeSelector([])("anything.at.all")


def test_selection_by_type_and_queue_hour_window() -> None:
    hours = [pendulum.datetime(2026, 1, 1, h, tz="UTC") for h in range(4)]
    files = [
        parse_key(staged_key(event_type=event_type, queue_hour=hour, partition=0, offset=n))
        for n, hour in enumerate(hours)
        for event_type in ("users.messages.email.Open", "users.behaviors.CustomEvent")
    ]
    listing = Listing(files=files)
    chosen = listing.select(["users.messages.email.*"], since=hours[1], until=hours[3])
    assert [(f.event_type, f.queue_hour.hour) for f in chosen] == [
        ("users.messages.email.Open", 1), ("users.messages.email.Open", 2)]
    assert len(listing.select()) == 8
