"""Flat rows named like TD's Braze Currents Streaming connector, and table names/templates."""

from __future__ import annotations

import orjson
import pytest

from airflow_braze_td.treasure_data.errors import TDInvalidNameError
from airflow_braze_td.treasure_data.rows import TableRouter, column_name, flatten_event, safe_name, validate_name


def test_flatten_gives_connector_columns_with_the_event_time() -> None:
    event = {
        "event_type": "users.messages.email.Open",
        "id": "e1",
        "time": 1_764_500_123,
        "user": {"user_id": "u1", "external_user_id": "ext1", "timezone": "Europe/Paris"},
        "properties": {"campaign_name": "spring", "is_amp": False, "machine_open": None, "dispatch_id": "d"},
    }
    row = flatten_event(event)
    assert list(row)[:3] == ["time", "id", "event_type"]
    assert row == {
        "time": 1_764_500_123,
        "id": "e1",
        "event_type": "users.messages.email.Open",
        "user_user_id": "u1",
        "user_external_user_id": "ext1",
        "user_timezone": "Europe/Paris",
        "properties_campaign_name": "spring",
        "properties_is_amp": False,
        "properties_dispatch_id": "d",
    }


def test_nested_values_become_json_strings_and_odd_names_valid_columns() -> None:
    event = {
        "event_type": "users.behaviors.CustomEvent",
        "id": "e2",
        "time": 1,
        "user": {},
        "properties": {"custom_properties": {"b": [1, 2], "a": {"x": 1}}, "Ad-ID.v2": 3, "tags": ["a", "b"]},
    }
    row = flatten_event(event)
    assert row["properties_custom_properties"] == '{"a":{"x":1},"b":[1,2]}'
    assert orjson.loads(row["properties_tags"]) == ["a", "b"]
    assert row["properties_ad_id_v2"] == 3
    assert all(name == name.lower() and name.replace("_", "").isalnum() for name in row)
    assert column_name("user_", "") == "user__"


def test_validate_name_accepts_td_names_and_explains_refusals() -> None:
    assert validate_name("braze_events") == "braze_events"
    assert validate_name("a" * 255, "database") == "a" * 255
    for bad in ("ab", "Braze", "braze-events", "a" * 256, "", None):
        with pytest.raises(TDInvalidNameError, match="3 to 255 characters of lower-case letters, digits and under"):
            validate_name(bad, "database")
    with pytest.raises(TDInvalidNameError, match="'braze_events'"):
        validate_name("Braze-Events")


def test_safe_name_is_always_valid_and_deterministic() -> None:
    for text in ("x", "", "Ünïcode events!", "a.b" * 200, "users.messages.email.Open"):
        name = safe_name(text)
        assert validate_name(name) == name == safe_name(text)
    assert safe_name("a.b" * 200) != safe_name("a.b" * 199 + "a.c")


def test_table_templates_route_each_event_type_to_a_valid_table() -> None:
    router = TableRouter("{event_type}")
    assert router.templated
    assert router("users.messages.email.Open") == "users_messages_email_open"
    assert TableRouter("braze_{event_type}")("users.behaviors.CustomEvent") == "braze_users_behaviors_customevent"
    assert TableRouter("braze_{event_type}")("x" * 400).__len__() == 255
    fixed = TableRouter("braze_events")
    assert not fixed.templated and fixed("anything") == "braze_events"


def test_bad_fixed_tables_and_templates_fail_at_construction() -> None:
    with pytest.raises(TDInvalidNameError):
        TableRouter("Braze Events")
    with pytest.raises(TDInvalidNameError, match="template"):
        TableRouter("braze-{event_type}")
