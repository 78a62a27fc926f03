"""The one reading of booleans and numbers that arrive as text: templated fields and connection extras.

Airflow renders a template to a string unless the DAG sets `render_template_as_native_obj`, so a param set
to false reaches an operator as `"False"`, which Python's truth calls true. Every templated boolean and
number goes through here: what Airflow renders is accepted, anything else is refused with the setting named.
"""

from __future__ import annotations

import ast
import math
from typing import Any

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
NONE_WORDS = frozenset({"", "none", "null"})


def as_bool(value: Any, name: str) -> bool:
    """`True`/`False`, `1`/`0`, or their text in any case (`"False"`, `"false"`, `"0"`, `"yes"`, `"off"` …)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), not {value!r}")


def as_number(value: Any, name: str) -> float:
    """A finite number, or its text (`"48"`, `"12.5"`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = math.nan
    else:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a number (such as 48 or 12.5), not {value!r}")
    return number


def as_optional_number(value: Any, name: str) -> float | None:
    """`as_number`, where None and its rendered text (`""`, `"None"`) mean the setting is off."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
        return None
    return as_number(value, name)


def as_names(value: Any, name: str) -> list[str]:
    """A list of names: a list, its rendered text (`"['a', 'b']"`, `'["a"]'`), or comma-separated names."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in NONE_WORDS:
            return []
        if not text.startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{name} must be a list of names, not {text!r}") from None
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError(f"{name} must be a list of names, not {value!r}")
