"""API keys: master keys do everything, write-only keys only write rows.

With no key configured the emulator accepts any key of Treasure Data's form, so local development
needs no setup yet a malformed key (a common paste error) still fails as it would against TD.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

TD_KEY_FORM = re.compile(r"\d+/[0-9a-fA-F]{40}")
REDACTED = "REDACTED"


class Access(enum.Enum):
    MASTER = "master"
    WRITE = "write"


class KeyRing:
    """Decides what a presented key may do."""

    def __init__(self, api_keys: Iterable[str] = (), write_keys: Iterable[str] = ()) -> None:
        self._access = {key: Access.WRITE for key in write_keys}
        self._access.update({key: Access.MASTER for key in api_keys})

    def access(self, key: str | None) -> Access | None:
        """The access `key` grants, or None when it is missing or unknown."""
        if not key:
            return None
        if self._access:
            return self._access.get(key)
        return Access.MASTER if TD_KEY_FORM.fullmatch(key) else None


def td1_key(headers: Mapping[str, str]) -> str | None:
    """The key of an `Authorization: TD1 <key>` header."""
    scheme, _, key = (headers.get("Authorization") or "").strip().partition(" ")
    return (key.strip() or None) if scheme.upper() == "TD1" else None


def postback_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """Postback accepts the key in a header or the query string; headers win, as at TD."""
    return headers.get("X-TD-Write-Key") or td1_key(headers) or query.get("td_write_key")


def redact_query(query_string: str) -> str:
    """The query string with the value of every parameter whose name mentions a key replaced."""
    if not query_string:
        return ""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return urlencode([(name, REDACTED if "key" in name.lower() else value) for name, value in pairs], safe="/")
