"""Shared fixtures: a fresh emulator per test and a small client for its endpoints, over real HTTP."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from typing import Any

import msgpack
import orjson
import pytest
import requests

from airflow_braze_td.emulator import Emulator

MASTER_KEY = "1001/" + "a" * 40
WRITE_KEY = "1001/" + "b" * 40
OTHER_KEY = "2002/" + "c" * 40
INGEST_BATCH = "application/vnd.treasuredata.v1+json"
INGEST_SINGLE = "application/vnd.treasuredata.v1.single+json"


def msgpack_gz(rows: Iterable[dict[str, Any]]) -> bytes:
    """An Import API body: gzip of concatenated msgpack maps."""
    return gzip.compress(b"".join(msgpack.packb(row) for row in rows))


class TDClient:
    """The raw calls the tests make, so each test shows only what it checks."""

    def __init__(self, url: str, session: requests.Session) -> None:
        self.url = url
        self.session = session

    @staticmethod
    def auth(key: str | None) -> dict[str, str]:
        return {} if key is None else {"Authorization": f"TD1 {key}"}

    def postback(
        self, db: str, table: str, body: Any, key: str | None = MASTER_KEY, **kwargs: Any
    ) -> requests.Response:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = {"Content-Type": "application/json", **({"X-TD-Write-Key": key} if key else {})}
        headers.update(kwargs.pop("headers", {}))
        return self.session.post(f"{self.url}/postback/v3/event/{db}/{table}", data=data, headers=headers, **kwargs)

    def import_rows(
        self, db: str, table: str, body: bytes, unique_id: str | None = None, key: str | None = MASTER_KEY
    ) -> requests.Response:
        path = f"import_with_id/{db}/{table}/{unique_id}" if unique_id is not None else f"import/{db}/{table}"
        return self.session.put(f"{self.url}/v3/table/{path}/msgpack.gz", data=body, headers=self.auth(key))

    def ingest(
        self, db: str, table: str, body: Any, content_type: str = INGEST_BATCH, key: str | None = MASTER_KEY,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        all_headers = {"Content-Type": content_type, **self.auth(key), **(headers or {})}
        return self.session.post(f"{self.url}/{db}/{table}", data=data, headers=all_headers)

    def control(self, method: str, path: str, key: str | None = MASTER_KEY) -> requests.Response:
        return self.session.request(method, f"{self.url}/v3/{path}", headers=self.auth(key))

    def create_table(self, db: str, table: str, key: str = MASTER_KEY) -> None:
        self.control("POST", f"database/create/{db}", key)
        assert self.control("POST", f"table/create/{db}/{table}/log", key).status_code == 200

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.url}/_emulator/{path}", **kwargs)


@pytest.fixture
def keyed_emu() -> Iterator[Emulator]:
    """Knows one master key and one write-only key."""
    with Emulator(api_keys=(MASTER_KEY,), write_keys=(WRITE_KEY,)) as emulator:
        yield emulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http_session:
        yield http_session


@pytest.fixture
def td(emu: Emulator, session: requests.Session) -> TDClient:
    return TDClient(emu.url, session)


@pytest.fixture
def keyed_td(keyed_emu: Emulator, session: requests.Session) -> TDClient:
    return TDClient(keyed_emu.url, session)


@pytest.fixture
def keys() -> dict[str, str]:
    return {"master": MASTER_KEY, "write": WRITE_KEY, "other": OTHER_KEY}


@pytest.fixture(name="msgpack_gz")
def msgpack_gz_fixture() -> Any:
    return msgpack_gz


@pytest.fixture
def ingest_types() -> dict[str, str]:
    return {"batch": INGEST_BATCH, "single": INGEST_SINGLE}
