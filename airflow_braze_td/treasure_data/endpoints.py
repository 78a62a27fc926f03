"""Where each Treasure Data endpoint family lives, per region (treasure-data.md, "Regions and hosts").

A `host` override points every family at one base URL (a proxy, or the local emulator). Plain `http://`
is refused for anything but a loopback host unless the caller opts in, because the API key travels in a
header on every request.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

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
