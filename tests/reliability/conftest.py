"""Reliability fixtures: a staging tree where one bad input sits between two good files, the real emulator,
the operator with a minimal run context, and a filesystem that counts the storage calls made on it."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pendulum
import pytest
import requests
from fsspec.implementations.local import LocalFileSystem

from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.ledger import DELIVERED, Ledger
from airflow_braze_td.delivery.pipeline import Delivery
from airflow_braze_td.delivery.settings import DeliverySettings, DeliverySummary
from airflow_braze_td.emulator import Emulator
from airflow_braze_td.operators.currents_to_treasure_data import BrazeCurrentsToTreasureDataOperator
from airflow_braze_td.treasure_data.client import TDClient
from airflow_braze_td.treasure_data.endpoints import Endpoints
from airflow_braze_td.treasure_data.retry import RetryPolicy
from airflow_braze_td.treasure_data.sinks import TDSink, make_sink
from tests.conftest import open_record, write_avro

KEY = "1/" + "ab" * 20
WRITE_KEY = "42/" + "5e" * 20
OTHER_KEY = "7/" + "cd" * 20
OPEN = "users.messages.email.Open"
# Three hours ago, so settings cases that run the operator (which never delivers a file before its queue
# hour) behave the same whatever the date.
HOUR = pendulum.now("UTC").start_of("hour").subtract(hours=3)
FAST_RETRY = RetryPolicy(max_attempts=3, max_total_seconds=10, initial_wait=0.01, max_wait=0.05)
GOOD_BEFORE = range(0, 10)
GOOD_AFTER = range(100, 110)
BAD_OFFSET = 5


def key_of(offset: int, *, event_type: str = OPEN, extension: str = "avro",
           hour: pendulum.DateTime = HOUR) -> str:
    return staged_key(event_type=event_type, queue_hour=hour, partition=0, offset=offset, extension=extension)


def ids_of(numbers: range | list[int]) -> list[str]:
    return [open_record(number)["id"] for number in numbers]


def http_event(event_id: str, **properties: Any) -> dict:
    """A staged Custom HTTP event with an external user id (so the TD export rule keeps it)."""
    return {"event_type": OPEN, "id": event_id, "time": 1_764_500_000, "user": {"external_user_id": "ext"},
            "properties": properties}


def client_for(url: str, key: str = KEY, retry: RetryPolicy = FAST_RETRY) -> TDClient:
    return TDClient(requests.Session(), Endpoints.for_region(host=url), key, retry=retry, timeout=(2.0, 5.0))


def sink_for(url: str, mode: str = "postback", *, key: str = KEY, create_table: bool = True, **options: Any) -> TDSink:
    table = "currents" if mode == "postback" else "events_{event_type}"
    return make_sink(mode, client_for(url, key), database="braze", table=table, create_table=create_table, **options)


def landed_ids(emu: Emulator, database: str = "braze") -> Counter:
    """Every event id stored in the emulator's database, with multiplicity (postback rows hold a batch)."""
    found: Counter = Counter()
    tables = requests.get(f"{emu.url}/v3/table/list/{database}", headers={"Authorization": f"TD1 {KEY}"}, timeout=10)
    if tables.status_code == 404:
        return found
    tables.raise_for_status()
    for table in tables.json()["tables"]:
        for row in emu.rows(database, table["name"]):
            if isinstance(row.get("events"), list):
                found.update(event["id"] for event in row["events"])
            else:
                found[row["id"]] += 1
    return found


@dataclass
class World:
    """One run's world: staging (two good files around the bad input), the ledger, and the emulator."""

    root: Path
    emulator: Emulator
    good_ids: list[str] = field(default_factory=list)

    @property
    def staging_dir(self) -> Path:
        return self.root / "staging"

    @property
    def ledger_dir(self) -> Path:
        return self.root / "ledger"

    @property
    def area(self) -> StagingArea:
        return StagingArea.from_url(str(self.staging_dir))

    @property
    def ledger(self) -> Ledger:
        return Ledger.from_url(str(self.ledger_dir))

    def add_good_files(self) -> None:
        """Good Avro files at offsets 1 and 9: the bad input (offset 5) is delivered between them."""
        write_avro(self.staging_dir / key_of(1), [open_record(n) for n in GOOD_BEFORE])
        write_avro(self.staging_dir / key_of(9), [open_record(n) for n in GOOD_AFTER])
        self.good_ids = ids_of(GOOD_BEFORE) + ids_of(GOOD_AFTER)

    def put(self, data: bytes, *, extension: str = "avro", offset: int = BAD_OFFSET, **key_options: Any) -> str:
        key = key_of(offset, extension=extension, **key_options)
        path = self.staging_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return key

    def put_events(self, events: list[dict], *, offset: int = BAD_OFFSET) -> str:
        """A staged Custom HTTP body (one `{"events": [...]}` document) named `.json`."""
        return self.put(orjson.dumps({"events": events}), extension="json", offset=offset)

    def deliver(self, sink: TDSink | None = None, owner: str = "run-1", requests_in_flight: int = 1) -> DeliverySummary:
        """The delivery core over every listed file, as one run; one request at a time by default, so that a
        scripted fault lands on the batch the test means."""
        sink = sink or sink_for(self.emulator.url)
        area = self.area
        settings = DeliverySettings(requests_in_flight=requests_in_flight)
        return Delivery(area, sink, self.ledger, settings, owner).run(area.list().files)

    def last_error_message(self) -> str:
        """The message of the ledger's one current delivery error."""
        (error,) = self.ledger.last_errors()
        return error["message"]

    def state_of(self, key: str) -> str | None:
        staged = next(staged for staged in self.area.list().files if staged.key == key)
        return self.ledger.states().get(staged.identity)

    def quarantine(self, key: str) -> list[dict]:
        return [record for _, record in self.ledger.quarantined() if record["key"] == key]

    def file_quarantine(self, key: str) -> dict:
        """The one unreadable-file record of `key`."""
        (record,) = [record for record in self.quarantine(key) if "reason" in record]
        return record

    def event_reasons(self, key: str) -> list[str]:
        return [entry["reason"] for record in self.quarantine(key) for entry in record.get("events", ())]

    def assert_delivered_exactly(self, extra_ids: list[str] = ()) -> None:
        """The good files' events plus `extra_ids` landed once each, nothing else; the good files are delivered."""
        assert landed_ids(self.emulator) == Counter([*self.good_ids, *extra_ids])
        assert self.state_of(key_of(1)) == DELIVERED and self.state_of(key_of(9)) == DELIVERED
        self.assert_ledger_truthful()

    def assert_ledger_truthful(self) -> None:
        """Every file the ledger marks delivered was read whole, and each of its eligible events landed."""
        landed = landed_ids(self.emulator)
        area = self.area
        states = self.ledger.states()
        for staged in area.list().files:
            if states.get(staged.identity) != DELIVERED:
                continue
            eligible = {event["id"] for event in area.iter_events(staged)
                        if isinstance(event, dict) and event["user"].get("external_user_id")}
            assert eligible <= set(landed), f"{staged.key} is marked delivered but events are missing from TD"


@pytest.fixture
def world(tmp_path: Path, emulator: Emulator) -> World:
    world = World(tmp_path, emulator)
    world.add_good_files()
    return world


class RecordingTaskInstance:
    """The operator reads ids from the task instance and pushes the TD tables it wrote (kept in `pushed`)."""

    dag_id = "braze_currents_to_treasure_data"
    task_id = "deliver"
    run_id = "manual__reliability"

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class RecordingOutletEvents(dict):
    """`context["outlet_events"]`: the assets added through each outlet (an alias), kept in a list per outlet."""

    def __missing__(self, outlet: Any) -> Any:
        added: list = []
        self[outlet] = type("Accessor", (), {"add": staticmethod(added.append), "added": added})()
        return self[outlet]


def run_context() -> dict:
    """The minimal context `execute` needs: a task instance, the run's dates and the outlet events (no Airflow
    database)."""
    now = pendulum.now("UTC")
    return {"ti": RecordingTaskInstance(), "logical_date": now, "data_interval_end": now,
            "outlet_events": RecordingOutletEvents()}


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch):
    """Define a Treasure Data connection through AIRFLOW_CONN_<ID>, as a deployment would."""

    def define(conn_id: str = "treasure_data_default", **fields: Any) -> None:
        fields.setdefault("conn_type", "treasure_data")
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))

    return define


def operator_for(world: World, **options: Any) -> BrazeCurrentsToTreasureDataOperator:
    options.setdefault("staging_url", str(world.staging_dir))
    options.setdefault("ledger_url", str(world.ledger_dir))
    options.setdefault("database", "braze")
    options.setdefault("table", "currents")
    return BrazeCurrentsToTreasureDataOperator(task_id="deliver", **options)


class CountingFileSystem(LocalFileSystem):
    """A local filesystem that counts the calls made on it from outside (nested calls are not counted).

    Local `find` walks folder by folder; object stores list a prefix in one paginated call. Counting the
    outermost calls measures what our code asks of the storage, whatever the backend does inside.
    """

    _COUNTED = ("find", "ls", "walk", "glob", "info", "exists", "isdir", "isfile", "open", "cat_file", "cat",
                "size", "modified", "created", "checksum", "ukey", "du", "head", "tail", "rm", "mv", "makedirs",
                "touch", "pipe_file")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter = Counter()
        self._depth = threading.local()

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


def _counted(name: str):
    method = getattr(LocalFileSystem, name)

    def wrapper(self: CountingFileSystem, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(self._depth, "value", 0)
        if depth == 0:
            self.calls[name] += 1
        self._depth.value = depth + 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth.value = depth

    wrapper.__name__ = name
    return wrapper


for _name in CountingFileSystem._COUNTED:
    setattr(CountingFileSystem, _name, _counted(_name))
