"""Region -> host mapping and the host override (treasure-data.md, "Regions and hosts")."""

from __future__ import annotations

import pytest

from airflow_braze_td.treasure_data.endpoints import (
    REGIONS,
    Endpoints,
    InsecureURLError,
    PostbackURL,
    check_url,
    postback_url_without_query,
    postback_write_key,
    require_postback_write_key,
)

TABLE = {
    "us01": ("api.treasuredata.com", "api-import.treasuredata.com", "in.treasuredata.com",
             "us01.records.in.treasuredata.com"),
    "ap01": ("api.treasuredata.co.jp", "api-import.treasuredata.co.jp", "tokyo.in.treasuredata.com",
             "ap01.records.in.treasuredata.com"),
    "eu01": ("api.eu01.treasuredata.com", "api-import.eu01.treasuredata.com", "eu01.in.treasuredata.com",
             "eu01.records.in.treasuredata.com"),
    "ap02": ("api.ap02.treasuredata.com", "api-import.ap02.treasuredata.com", "ap02.in.treasuredata.com",
             "ap02.records.in.treasuredata.com"),
    "ap03": ("api.ap03.treasuredata.com", "api-import.ap03.treasuredata.com", "ap03.in.treasuredata.com",
             "ap03.records.in.treasuredata.com"),
}


@pytest.mark.parametrize("region", sorted(TABLE))
def test_each_region_maps_every_family_to_its_https_host(region: str) -> None:
    endpoints = Endpoints.for_region(region)
    api, imports, postback, ingest = TABLE[region]
    assert (endpoints.api, endpoints.imports, endpoints.postback, endpoints.ingest) == (
        f"https://{api}", f"https://{imports}", f"https://{postback}", f"https://{ingest}"
    )
    assert not endpoints.overridden


def test_default_region_aliases_and_case() -> None:
    assert set(REGIONS) == set(TABLE)
    assert Endpoints.for_region().region == "us01"
    assert Endpoints.for_region(None).api == "https://api.treasuredata.com"
    assert Endpoints.for_region("EU01").region == "eu01"
    assert Endpoints.for_region("tokyo").postback == "https://tokyo.in.treasuredata.com"


def test_unknown_region_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="us01, ap01, eu01, ap02, ap03"):
        Endpoints.for_region("mars01")


def test_host_override_is_one_base_url_for_every_family() -> None:
    endpoints = Endpoints.for_region("eu01", host="http://127.0.0.1:8089/")
    assert {endpoints.api, endpoints.imports, endpoints.postback, endpoints.ingest} == {"http://127.0.0.1:8089"}
    assert endpoints.overridden and "127.0.0.1:8089" in endpoints.describe()
    assert Endpoints.for_region(host="td-proxy.example.com").api == "https://td-proxy.example.com"


@pytest.mark.parametrize("host", ["http://localhost:9000", "http://[::1]:9000", "http://127.0.0.5"])
def test_plain_http_is_fine_on_loopback(host: str) -> None:
    assert Endpoints.for_region(host=host).api == host


def test_plain_http_to_a_remote_host_needs_an_explicit_opt_in() -> None:
    with pytest.raises(InsecureURLError, match="allow_insecure_http"):
        Endpoints.for_region(host="http://td-proxy.example.com")
    assert Endpoints.for_region(host="http://td-proxy.example.com", allow_insecure_http=True).api == (
        "http://td-proxy.example.com"
    )


def test_urls_with_credentials_or_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="credentials"):
        check_url("https://user:secret@api.treasuredata.com")
    with pytest.raises(ValueError, match="absolute"):
        check_url("ftp://api.treasuredata.com")


CONSOLE_URL = "https://in.treasuredata.com/td/postback/v3/event/braze/events?td_write_key=1%2Fsecret&x=1"


def test_a_console_postback_url_parses_into_its_parts_with_the_key_out_of_the_query() -> None:
    url = PostbackURL.parse(CONSOLE_URL)
    assert url == PostbackURL("https://in.treasuredata.com/td/postback/v3/event", "braze", "events", "1/secret", "?x=1")
    assert postback_write_key(CONSOLE_URL) == "1/secret"
    assert postback_url_without_query(CONSOLE_URL) == "https://in.treasuredata.com/td/postback/v3/event/braze/events"
    require_postback_write_key(CONSOLE_URL)


def test_a_postback_url_without_its_key_or_of_another_shape_is_refused() -> None:
    keyless = CONSOLE_URL.split("?")[0]
    assert postback_write_key(keyless) is None and postback_write_key(keyless + "?td_write_key=") is None
    with pytest.raises(ValueError, match="has no td_write_key") as raised:
        require_postback_write_key(keyless)
    assert "secret" not in str(raised.value)
    with pytest.raises(ValueError, match="not a Treasure Data postback URL"):
        PostbackURL.parse("https://in.treasuredata.com/v3/event/braze/events")
    with pytest.raises(InsecureURLError):
        PostbackURL.parse(CONSOLE_URL.replace("https", "http"))
