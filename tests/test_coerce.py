"""Templated booleans, numbers and name lists: what Airflow renders is read for what it says; anything
else is refused with the setting named."""

from __future__ import annotations

import pytest

from airflow_braze_td.coerce import as_bool, as_names, as_number, as_optional_number


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), (1, True), (0, False), ("True", True), ("False", False), ("false", False),
    ("0", False), ("1", True), (" yes ", True), ("OFF", False),
])
def test_booleans_as_airflow_renders_them(value, expected) -> None:
    assert as_bool(value, "replay") is expected


@pytest.mark.parametrize("value", ["maybe", "", "None", None, 2, 0.5, []])
def test_anything_else_is_not_a_boolean(value) -> None:
    with pytest.raises(ValueError, match=r"^replay must be a boolean \(true/false, 1/0, yes/no, on/off\), not "):
        as_bool(value, "replay")


@pytest.mark.parametrize(("value", "expected"), [(48, 48.0), (12.5, 12.5), ("48", 48.0), (" 12.5 ", 12.5)])
def test_numbers_and_their_text(value, expected) -> None:
    assert as_number(value, "loss_window_hours") == expected


@pytest.mark.parametrize("value", ["forty", "", None, True, "nan", "inf"])
def test_anything_else_is_not_a_number(value) -> None:
    with pytest.raises(ValueError, match=r"^loss_window_hours must be a number"):
        as_number(value, "loss_window_hours")


@pytest.mark.parametrize("value", [None, "", "None"])
def test_an_optional_number_left_unset_is_off(value) -> None:
    assert as_optional_number(value, "max_staging_silence_hours") is None


@pytest.mark.parametrize(("value", "expected"), [
    (None, []), ("", []), ("[]", []), (["a", "b"], ["a", "b"]), ("['a', 'b']", ["a", "b"]), ('["a"]', ["a"]),
    ("a, b", ["a", "b"]), ("users.messages.*", ["users.messages.*"]),
])
def test_name_lists_and_their_text(value, expected) -> None:
    assert as_names(value, "event_types") == expected


@pytest.mark.parametrize("value", ["[1, 2]", "[a", 7])
def test_anything_else_is_not_a_name_list(value) -> None:
    with pytest.raises(ValueError, match=r"^event_types must be a list of names"):
        as_names(value, "event_types")
