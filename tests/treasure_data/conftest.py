"""Fixtures for the Treasure Data client, sinks and hook: the real emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from airflow_braze_td.emulator import Emulator
from airflow_braze_td.treasure_data.client import TDClient
from tests.treasure_data.td_helpers import EchoServer, client_for


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def client(emu: Emulator, http: requests.Session) -> TDClient:
    return client_for(emu.url, http)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer({"databases": [{"name": "echo_db"}]})
    yield server
    server.close()
