"""The columnar reader gives the events the streaming fastavro reader gives, or leaves the file to it and says why.

Every comparison is against `decode.iter_events` (fastavro), the reader the columnar one replaces: on Braze's
published samples, on every event type of the project's own sample export, and on records built to reach
the edges of the one normalisation (float32 rounding, JSON properties, renames, nulls, escapes, bad ids).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pendulum
import pytest

from airflow_braze_td.currents import columns
from airflow_braze_td.currents.columns import ColumnarRefusal, columnar_events
from airflow_braze_td.currents.decode import BadEvent, CorruptFileError, iter_events
from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import COLUMNAR, FASTAVRO, StagingArea
from tests.conftest import OPEN_SCHEMA, open_record, write_avro

PURCHASE_SCHEMA = {
    "type": "record",
    "name": "Purchase",
    "namespace": "dataexport.S3.inner.users.behaviors",
    "fields": [
        {"name": "id", "type": ["null", "string"], "default": None},
        {"name": "user_id", "type": "string"},
        {"name": "external_user_id", "type": ["null", "string"], "default": None},
        {"name": "time", "type": ["null", "int"], "default": None},
        {"name": "price", "type": ["null", "float"], "default": None},
        {"name": "ratio", "type": ["null", "double"], "default": None},
        {"name": "properties", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": ["null", {"type": "array", "items": "string"}], "default": None},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "flag", "type": ["null", "boolean"], "default": None},
    ],
}
PURCHASE = "users.behaviors.Purchase"


def _comparable(items: list) -> list:
    """Events as they are, a bad record as its place and reason (its record is each reader's own view)."""
    return [("bad", item.record_index, item.reason) if isinstance(item, BadEvent) else item for item in items]


def _nan_free(items: list) -> list:
    """NaN is not equal to itself: compare it as a marker."""
    def clean(value: object) -> object:
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, dict):
            return {key: clean(inner) for key, inner in value.items()}
        return value
    return [clean(item) for item in items]


def _both(data: bytes, event_type: str | None) -> tuple[list, list]:
    columnar = columnar_events(data, event_type)
    assert not isinstance(columnar, ColumnarRefusal), columnar
    streamed = list(iter_events(io.BytesIO(data), "f.avro", event_type=event_type, fmt="avro"))
    return _comparable(columnar), _comparable(streamed)


def test_every_braze_sample_reads_the_same(braze_samples: Path) -> None:
    read = 0
    for path in sorted((braze_samples / "avro").glob("*.avro")):
        columnar, streamed = _both(path.read_bytes(), path.name.removesuffix(".avro"))
        assert columnar == streamed, path.name
        read += 1
    assert read == 94


def test_every_event_type_of_the_sample_export_reads_the_same(tmp_path: Path) -> None:
    written = stage_sample(str(tmp_path), events=4_000, hours=1, seed=3,
                           end=pendulum.datetime(2026, 11, 30, 12, tz="UTC"))
    area = StagingArea.from_url(str(tmp_path))
    types = set()
    for staged in area.list().files:
        columnar, streamed = _both((tmp_path / staged.key).read_bytes(), staged.event_type)
        assert columnar == streamed, staged.key
        types.add(staged.event_type)
    assert types == set(written["by_event_type"])


def test_the_edges_of_the_normalisation_read_the_same(tmp_path: Path) -> None:
    records = [
        {"id": "a", "user_id": "u", "external_user_id": "x", "time": 1, "price": 3.14, "ratio": 0.1,
         "properties": '{"quantity": 2, "coupon": null}', "tags": ["a", "b"], "note": 'quote " backslash \\ \n',
         "flag": True},
        {"id": "b", "user_id": "u", "time": 2, "price": 1e-7, "properties": "not json", "tags": [],
         "note": "ünïcödé ✓", "flag": False},
        {"id": "c", "user_id": "u", "time": 3, "price": 123456789.0, "properties": "null"},
        {"id": "d", "user_id": "u", "time": 4, "price": float("nan"), "ratio": float("inf"), "properties": "[1, 2]"},
        {"id": "", "user_id": "u", "time": 5},
        {"id": None, "user_id": "u", "time": 6},
        {"id": "g", "user_id": "u", "time": None},
        {"id": "h", "user_id": "u", "time": 8, "price": 16777217.0},
    ]
    data = write_avro(tmp_path / "p.avro", records, schema=PURCHASE_SCHEMA).read_bytes()
    columnar, streamed = _both(data, PURCHASE)
    assert _nan_free(columnar) == _nan_free(streamed)
    assert columnar[0]["properties"]["price"] == 3.14
    assert columnar[0]["properties"]["purchase_properties"] == {"quantity": 2, "coupon": None}
    assert columnar[2]["properties"]["purchase_properties"] is None
    assert [item[:2] for item in columnar if isinstance(item, tuple)] == [("bad", 4), ("bad", 5), ("bad", 6)]


def test_events_are_made_a_slice_at_a_time_with_their_places_in_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(columns, "SLICE_ROWS", 7)
    records = [{"id": f"e{n}" if n != 16 else "", "user_id": "u", "time": n, "price": n + 0.1} for n in range(30)]
    data = write_avro(tmp_path / "p.avro", records, schema=PURCHASE_SCHEMA).read_bytes()
    columnar, streamed = _both(data, PURCHASE)
    assert columnar == streamed and len(columnar) == 30
    assert columnar[16][:2] == ("bad", 16) and columnar[29]["properties"]["price"] == 29.1


def test_bad_records_keep_their_record(tmp_path: Path) -> None:
    data = write_avro(tmp_path / "p.avro", [{"id": "", "user_id": "u", "time": 5, "note": "kept"}],
                      schema=PURCHASE_SCHEMA).read_bytes()
    (bad,) = columnar_events(data, PURCHASE)
    assert isinstance(bad, BadEvent)
    assert bad.record["note"] == "kept" and bad.record_index == 0 and "id" in bad.reason


def test_the_banner_rename_is_applied(tmp_path: Path) -> None:
    schema = {"type": "record", "name": "Click", "namespace": "dataexport.S3.inner.users.messages.banner",
              "fields": [{"name": "id", "type": "string"}, {"name": "time", "type": "int"},
                         {"name": "canvas_step_message_variation_id", "type": ["null", "string"]}]}
    data = write_avro(tmp_path / "b.avro", [{"id": "a", "time": 1, "canvas_step_message_variation_id": "v"}],
                      schema=schema).read_bytes()
    columnar, streamed = _both(data, "users.messages.banner.Click")
    assert columnar == streamed
    assert columnar[0]["properties"] == {"canvas_step_message_variation_api_id": "v"}


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
def test_codecs_polars_reads(tmp_path: Path, codec: str) -> None:
    data = write_avro(tmp_path / "o.avro", [open_record(n) for n in range(300)], codec=codec).read_bytes()
    columnar, streamed = _both(data, "users.messages.email.Open")
    assert columnar == streamed and len(columnar) == 300


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda path: write_avro(path, [open_record(1)], codec="zstandard").read_bytes(), "Polars could not read it"),
        (lambda path: write_avro(path, [open_record(n) for n in range(2_000)]).read_bytes()[:9_000],
         "Polars could not read it"),
        (lambda path: b"Obj\x01garbage", "Polars could not read it"),
        (lambda path: b'{"events": []}', "not an Avro file"),
        (lambda path: write_avro(path, [{"id": "a", "time": 1, "at": 1_700_000_000_000}], schema={
            "type": "record", "name": "Open", "fields": [
                {"name": "id", "type": "string"}, {"name": "time", "type": "int"},
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}).read_bytes(),
         "field type"),
        (lambda path: write_avro(path, [{"id": "a", "time": 1, "extra": {"k": "v"}}], schema={
            "type": "record", "name": "Open", "fields": [
                {"name": "id", "type": "string"}, {"name": "time", "type": "int"},
                {"name": "extra", "type": {"type": "map", "values": "string"}}]}).read_bytes(),
         "Polars could not read it"),
        (lambda path: write_avro(path, [{"id": "a", "time": "1"}], schema={
            "type": "record", "name": "Open", "fields": [
                {"name": "id", "type": "string"}, {"name": "time", "type": "string"}]}).read_bytes(),
         "no string id or integer time"),
    ],
    ids=["zstandard", "truncated", "garbage", "json", "timestamp", "map", "string-time"],
)
def test_files_the_columnar_reader_leaves_to_fastavro(tmp_path: Path, make, why: str) -> None:
    refusal = columnar_events(make(tmp_path / "f.avro"), "users.messages.email.Open")
    assert isinstance(refusal, ColumnarRefusal)
    assert why in refusal


def _stage_one(root: Path, name: str, records: list[dict], codec: str = "null") -> None:
    key = staged_key(event_type="users.messages.email.Open", queue_hour=pendulum.datetime(2026, 11, 30, 10, tz="UTC"),
                     partition=0, offset=int(name))
    write_avro(root / key, records, schema=OPEN_SCHEMA, codec=codec)


def test_read_ahead_says_which_reader_read_each_file(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _stage_one(tmp_path, "1", [open_record(n) for n in range(50)])
    _stage_one(tmp_path, "2", [open_record(n) for n in range(50, 80)], codec="zstandard")
    area = StagingArea.from_url(str(tmp_path))
    files = area.list().files
    with ThreadPoolExecutor(4) as pool:
        seen = [(staged, list(events), events.reader, events.refusal)
                for staged, events in area.read_ahead(files, pool)]
    assert [(len(events), reader) for _, events, reader, _ in seen] == [(50, COLUMNAR), (30, FASTAVRO)]
    assert "Polars could not read it" in seen[1][3]
    for staged, events, _, _ in seen:
        assert events == list(area.iter_events(staged))


def test_a_truncated_file_still_quarantines_with_how_far_reading_got(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _stage_one(tmp_path, "1", [open_record(n) for n in range(2_000)])
    area = StagingArea.from_url(str(tmp_path))
    (staged,) = area.list().files
    path = tmp_path / staged.key
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    (staged,) = area.list().files
    kept: list = []
    with ThreadPoolExecutor(1) as pool:
        ((_, events),) = list(area.read_ahead([staged], pool))
        with pytest.raises(CorruptFileError) as raised:
            for event in events:
                kept.append(event)
    assert events.reader == FASTAVRO and "Polars could not read it" in events.refusal
    assert 0 < raised.value.record_index == len(kept) < 2_000
