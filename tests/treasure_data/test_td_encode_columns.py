"""Each sink encodes events held as columns (`encode_columns`) exactly as it encodes them one dict at a time
(`encode`), on every event type of the sample export and on records built for the edges; a batch's event
held as a row is made into its dict where TD refuses it.
"""

from __future__ import annotations

from pathlib import Path

import msgpack
import orjson
import pendulum
import pytest
import requests

from airflow_braze_td.currents.columns import columnar_blocks
from airflow_braze_td.currents.decode import BadEvent
from airflow_braze_td.currents.events import EventColumns, EventRow
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.batching import Batch
from airflow_braze_td.delivery.sink import EventEncodeError, Rejection
from airflow_braze_td.emulator import Emulator, Fault
from airflow_braze_td.treasure_data.client import TDClient
from airflow_braze_td.treasure_data.endpoints import Endpoints
from airflow_braze_td.treasure_data.rows import flatten_columns, flatten_event
from airflow_braze_td.treasure_data.sinks import TDSink, make_sink
from tests.conftest import write_avro
from tests.currents.test_columns import PURCHASE, PURCHASE_SCHEMA

MODES = ["postback", "import", "ingest"]
DECODE = {"postback": orjson.loads, "import": msgpack.unpackb, "ingest": orjson.loads}


def _sink(mode: str, url: str = "http://127.0.0.1:9", table: str = "braze_{event_type}") -> TDSink:
    return make_sink(mode, TDClient(requests.Session(), Endpoints.for_region(host=url), "1/" + "ab" * 20),
                     database="braze", table=table, create_table=True)


def _blocks(data: bytes, event_type: str) -> list[EventColumns]:
    parts = columnar_blocks(data, event_type)
    assert not isinstance(parts, str), parts
    return [part for part in parts if not isinstance(part, BadEvent)]


def _assert_encodes_alike(sink: TDSink, block: EventColumns, rows: list[int], decode) -> None:
    route, items = sink.encode_columns(block, rows)
    one_by_one = [sink.encode(event) for event in block.take(rows).events()]
    assert all(found == route for found, _ in one_by_one)
    assert [decode(item) for item in items] == [decode(item) for _, item in one_by_one]
    assert len(items) == len(rows)


@pytest.fixture(scope="module")
def sample_blocks(tmp_path_factory) -> list[EventColumns]:
    root = tmp_path_factory.mktemp("sample")
    written = stage_sample(str(root), events=3_000, hours=1, seed=5, end=pendulum.datetime(2026, 11, 30, 12, tz="UTC"))
    area = StagingArea.from_url(str(root))
    blocks = [block for staged in area.list().files
              for block in _blocks((root / staged.key).read_bytes(), staged.event_type)]
    assert {block.event_type for block in blocks} == set(written["by_event_type"])
    return blocks


@pytest.mark.parametrize("mode", MODES)
def test_every_event_type_encodes_alike_whole_and_in_part(sample_blocks: list[EventColumns], mode: str) -> None:
    sink = _sink(mode)
    for block in sample_blocks:
        _assert_encodes_alike(sink, block, list(range(len(block))), DECODE[mode])
        _assert_encodes_alike(sink, block, list(range(0, len(block), 2)), DECODE[mode])


def test_flat_rows_from_columns_are_the_flattened_events(sample_blocks: list[EventColumns]) -> None:
    for block in sample_blocks:
        rows = list(range(1, len(block), 3))
        assert flatten_columns(block.take(rows)) == [flatten_event(event) for event in block.take(rows).events()]


@pytest.mark.parametrize("mode", MODES)
def test_the_edges_encode_alike(tmp_path: Path, mode: str) -> None:
    # The JSON property's first value is text: its column holds text and objects.
    records = [
        {"id": "b", "user_id": "u", "time": 2, "price": 1e-7, "properties": "not json", "tags": [],
         "note": "ünïcödé ✓", "flag": False},
        {"id": "a", "user_id": "u", "external_user_id": "x", "time": 1, "price": 3.14,
         "properties": '{"quantity": 2, "coupon": null, "nested": {"b": 1, "a": [1, {"z": 0, "y": 1}]}}',
         "tags": ["a", "b"], "note": 'quote " backslash \\ \n', "flag": True},
        {"id": "c", "user_id": "u", "time": 3, "properties": "null"},
        {"id": "d", "user_id": "u", "time": 4, "properties": "[1, 2]"},
        {"id": "", "user_id": "u", "time": 5},
        {"id": "e", "user_id": "u", "time": 6, "properties": "7", "ratio": 2.5},
        {"id": "f", "user_id": "u", "time": 7},
    ]
    data = write_avro(tmp_path / "p.avro", records, schema=PURCHASE_SCHEMA).read_bytes()
    blocks = _blocks(data, PURCHASE)
    assert sum(map(len, blocks)) == 6
    sink = _sink(mode)
    for block in blocks:
        _assert_encodes_alike(sink, block, list(range(len(block))), DECODE[mode])
        _assert_encodes_alike(sink, block, [len(block) - 1], DECODE[mode])
    if mode == "import":
        row = flatten_columns(blocks[0].take([1]))[0]
        assert row["properties_purchase_properties"] == '{"coupon":null,"nested":{"a":[1,{"y":1,"z":0}],"b":1},"quantity":2}'
        assert row["properties_tags"] == '["a","b"]' and row["user_external_user_id"] == "x"


def test_a_row_that_cannot_be_encoded_fails_the_block_with_a_clear_error() -> None:
    block = EventColumns("users.messages.email.Open", ["a", "b"], [1, 2], {"user_id": ["u", "v"]},
                         {"count": [1, 2**70]})
    with pytest.raises(EventEncodeError, match="cannot encode a users.messages.email.Open event for import"):
        _sink("import").encode_columns(block, [0, 1])
    assert len(_sink("import").encode_columns(block, [0])[1]) == 1


def test_a_rejection_holds_the_event_of_a_row() -> None:
    block = EventColumns(PURCHASE, ["a", "b"], [1, 2], {"user_id": ["u", None]},
                         {"purchase_properties": ['{"k": 1}', None], "price": [None, 2.0]}, "purchase_properties")
    refused = Rejection(EventRow(block, 0), "HTTP 400")
    assert refused.event == {"event_type": PURCHASE, "id": "a", "time": 1, "user": {"user_id": "u"},
                             "properties": {"purchase_properties": {"k": 1}}}
    assert Rejection(EventRow(block, 1), "x").event == {"event_type": PURCHASE, "id": "b", "time": 2, "user": {},
                                                        "properties": {"price": 2.0}}


def test_ingest_rejects_a_row_of_a_block_as_its_event(emu: Emulator) -> None:
    """A batch of rows from columns, one row refused by records.in: the rejection is that row's event."""
    sink = _sink("ingest", emu.url, table="events")
    block = EventColumns("users.messages.email.Open", [f"id-{n}" for n in range(3)], [1, 2, 3],
                         {"external_user_id": ["x0", "x1", "x2"]}, {"email_address": ["a@b", None, "c@d"]})
    route, items = sink.encode_columns(block, [0, 1, 2])
    receipts = [{"success": True}, {"success": False, "error": {"name": "InvalidRecord", "description": "bad",
                                                                "retryable": False}}, {"success": True}]
    emu.push_faults(Fault(status=206, body={"receipts": receipts}))
    result = sink.send(Batch(route, 0, items, [EventRow(block, row) for row in range(3)], 0, key="k" * 32))
    assert result.accepted == 2
    assert [rejection.event for rejection in result.rejected] == [block.event(1)]
    assert type(result.rejected[0].event) is dict
