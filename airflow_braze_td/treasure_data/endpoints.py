"""Where each Treasure Data endpoint family lives, per region (treasure-data.md, "Regions and hosts"), and
what a console postback URL holds.

A `host` override points every family at one base URL (a proxy, or the local emulator). Plain `http://`
is refused for anything but a loopback host unless the caller opts in, because the API key travels in a
header on every request.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

DEFAULT_REGION = "us01"

# region -> (REST api, import, postback, records.in)
_REGION_HOSTS: dict[str, tuple[str, str, str, str]] = {
    "us01": (
        "api.treasuredata.com",
        "api-import.treasuredata.com",
        "in.treasuredata.com",
        "us01.records.in.treasuredata.com",
    ),
    "ap01": (
        "api.treasuredata.co.jp",
        "api-import.treasuredata.co.jp",
        "tokyo.in.treasuredata.com",
        "ap01.records.in.treasuredata.com",
    ),
    "eu01": (
        "api.eu01.treasuredata.com",
        "api-import.eu01.treasuredata.com",
        "eu01.in.treasuredata.com",
        "eu01.records.in.treasuredata.com",
    ),
    "ap02": (
        "api.ap02.treasuredata.com",
        "api-import.ap02.treasuredata.com",
        "ap02.in.treasuredata.com",
        "ap02.records.in.treasuredata.com",
    ),
    "ap03": (
        "api.ap03.treasuredata.com",
        "api-import.ap03.treasuredata.com",
        "ap03.in.treasuredata.com",
        "ap03.records.in.treasuredata.com",
    ),
}
# region -> the TD console's host, where a person looks at a table.
_CONSOLE_HOSTS: dict[str, str] = {
    "us01": "console.treasuredata.com",
    "ap01": "console.treasuredata.co.jp",
    "eu01": "console.eu01.treasuredata.com",
    "ap02": "console.ap02.treasuredata.com",
    "ap03": "console.ap03.treasuredata.com",
}
# The names the reference's region column uses for the first three.
_ALIASES = {"us": "us01", "tokyo": "ap01", "eu": "eu01"}

REGIONS: tuple[str, ...] = tuple(_REGION_HOSTS)


class InsecureURLError(ValueError):
    """A plain-http URL to a non-loopback host: the key would cross the network in clear text."""


def is_loopback(hostname: str | None) -> bool:
    """True for localhost and loopback addresses, the only places plain http is allowed by default."""
    if not hostname:
        return False
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Validate an absolute http(s) URL and return it without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {parts.scheme or '?'}://{parts.hostname or '?'}{parts.path}")
    if parts.username or parts.password:
        raise ValueError("a Treasure Data URL must not carry credentials; put the key in the connection password")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise InsecureURLError(
            f"refusing plain http to {parts.hostname}: the API key would travel unencrypted. "
            "Use https, or set allow_insecure_http=True if this really is a trusted network."
        )
    return url.rstrip("/")


def normalise_region(region: str | None) -> str:
    """Canonical region id (`us01`, `ap01`, ...) from an id, an alias, or None (the default)."""
    name = (region or DEFAULT_REGION).strip().lower()
    name = _ALIASES.get(name, name)
    if name not in _REGION_HOSTS:
        raise ValueError(f"unknown Treasure Data region {region!r}; expected one of {', '.join(REGIONS)}")
    return name


def console_url(region: str | None, database: str, table: str | None = None) -> str:
    """The TD console's page of a table (or of a database) in `region`. The by-name path is the console's
    older form; not tried against the live service (treasure-data.md names no console paths)."""
    base = f"https://{_CONSOLE_HOSTS[normalise_region(region)]}/databases/{quote(database, safe='')}"
    return f"{base}/tables/{quote(table, safe='')}" if table else base


@dataclass(frozen=True)
class Endpoints:
    """Base URLs (no trailing slash) of the four endpoint families for one account."""

    region: str
    api: str
    imports: str
    postback: str
    ingest: str
    overridden: bool = False

    @classmethod
    def for_region(
        cls, region: str | None = DEFAULT_REGION, *, host: str | None = None, allow_insecure_http: bool = False
    ) -> Endpoints:
        """Endpoints of `region`, or `host` (one base URL) for every family when it is given."""
        name = normalise_region(region)
        if host:
            base = host if "://" in host else f"https://{host}"
            base = check_url(base, allow_insecure_http=allow_insecure_http)
            return cls(region=name, api=base, imports=base, postback=base, ingest=base, overridden=True)
        api, imports, postback, ingest = (f"https://{h}" for h in _REGION_HOSTS[name])
        return cls(region=name, api=api, imports=imports, postback=postback, ingest=ingest)

    def describe(self) -> str:
        """A short, secret-free description for error messages."""
        return f"host override {self.api}" if self.overridden else f"region {self.region}"


POSTBACK_PATH = "/postback/v3/event"
_POSTBACK_URL_PATH = re.compile(rf"^(?P<prefix>.*){POSTBACK_PATH}/(?P<database>[^/]+)/(?P<table>[^/]+)/?$")
_WRITE_KEY_PARAMETER = "td_write_key"


@dataclass(frozen=True)
class PostbackURL:
    """A postback URL as the Treasure Data console gives it:
    `https://<host>/postback/v3/event/<database>/<table>?td_write_key=<write key>`.

    `base` runs up to `/postback/v3/event`; `query` is the rest of the query string (with its `?`, or empty),
    without the write key, which is sent in a header so no URL holds it.
    """

    base: str
    database: str
    table: str
    write_key: str | None
    query: str

    @classmethod
    def parse(cls, url: str, *, allow_insecure_http: bool = False) -> PostbackURL:
        check_url(url, allow_insecure_http=allow_insecure_http)
        parts = urlsplit(url)
        match = _POSTBACK_URL_PATH.match(parts.path)
        if not match:
            raise ValueError(
                f"not a Treasure Data postback URL (expected ...{POSTBACK_PATH}/<database>/<table>): {parts.path}"
            )
        query = parse_qsl(parts.query, keep_blank_values=True)
        write_key = next((value for name, value in query if name == _WRITE_KEY_PARAMETER), None)
        rest = urlencode([(name, value) for name, value in query if name != _WRITE_KEY_PARAMETER])
        base = f"{parts.scheme}://{parts.netloc}{match['prefix']}{POSTBACK_PATH}"
        return cls(base, match["database"], match["table"], write_key, f"?{rest}" if rest else "")


def postback_write_key(url: str) -> str | None:
    """The write key a postback URL carries, if any; read without checking the URL, so that a key can be
    masked before anything else looks at (or logs) the URL."""
    return next((value for name, value in parse_qsl(urlsplit(url).query)
                 if name == _WRITE_KEY_PARAMETER and value), None)


def require_postback_write_key(url: str) -> None:
    """Refuse a postback URL without its write key: most likely a truncated paste, and sent with another
    key instead, a postback for the wrong account is answered 200 and then dropped by Treasure Data."""
    if postback_write_key(url) is None:
        raise ValueError(
            f"the postback URL ...{urlsplit(url).path} has no {_WRITE_KEY_PARAMETER}. Copy the whole URL from the "
            f"Treasure Data console (it ends in ?{_WRITE_KEY_PARAMETER}=<key>), or leave the postback URL empty and "
            "give a database and table to post with the connection's key."
        )


def postback_url_without_query(url: str) -> str:
    """A postback URL fit for messages and records: without its query, which may carry the write key."""
    return urlsplit(url)._replace(query="").geturl()
