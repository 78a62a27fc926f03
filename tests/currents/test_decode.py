"""Streaming readers: every Avro codec, the staged JSON forms, and typed errors for bad files."""

from __future__ import annotations

import gzip
import io

import orjson
import pytest

from airflow_braze_td.currents.decode import BadEvent, CorruptFileError, iter_events
from tests.conftest import OPEN_SCHEMA, open_record, write_avro


def _read(data: bytes, name: str = "f") -> list:
    return list(iter_events(io.BytesIO(data), name))


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "zstandard"])
def test_every_avro_codec(tmp_path, codec: str) -> None:
    path = write_avro(tmp_path / f"{codec}.avro", [open_record(n) for n in range(500)], codec=codec)
    events = _read(path.read_bytes())
    assert len(events) == 500
    assert events[7] == {
        "event_type": "users.messages.email.Open",
        "id": "00000000-0000-4000-8000-000000000007",
        "time": 1_764_500_007,
        "user": {"user_id": "user7", "external_user_id": "ext7", "timezone": "Europe/Paris"},
        "properties": {"campaign_name": "spring", "email_address": "u7@example.com"},
    }


def test_event_type_comes_from_the_key_before_the_schema(tmp_path) -> None:
    path = write_avro(tmp_path / "a.avro", [open_record(1)])
    with path.open("rb") as stream:
        (event,) = iter_events(stream, "a.avro", event_type="users.messages.email.Click")
    assert event["event_type"] == "users.messages.email.Click"


def test_truncated_avro_names_the_file_and_keeps_earlier_records(tmp_path) -> None:
    data = write_avro(tmp_path / "t.avro", [open_record(n) for n in range(2_000)]).read_bytes()
    kept: list = []
    with pytest.raises(CorruptFileError) as raised:
        for event in iter_events(io.BytesIO(data[: len(data) // 2]), "hour/t.avro"):
            kept.append(event)
    error = raised.value
    assert error.name == "hour/t.avro" and "hour/t.avro" in str(error)
    assert 0 < error.record_index == len(kept) < 2_000
    assert kept[-1]["id"] == open_record(len(kept) - 1)["id"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not avro, it only has the name", "invalid JSON"),
        (b"Obj\x01garbage-after-the-magic", "not a readable Avro file"),
        (b"", "empty file"),
        (b"\n\n  \n", "empty file"),
    ],
)
def test_unreadable_files_raise_typed_errors(data: bytes, message: str) -> None:
    with pytest.raises(CorruptFileError, match=message):
        _read(data, "bad.avro")


@pytest.mark.parametrize(("data", "message"), [
    (b"id,time\n1,2\n", r"not an Avro file: it starts with b'id,t', where Avro files start with b'Obj\\x01'"),
    (b"", "empty file: no Avro header"),
])
def test_a_file_named_avro_without_the_avro_magic_is_not_avro(data: bytes, message: str) -> None:
    with pytest.raises(CorruptFileError, match=message):
        list(iter_events(io.BytesIO(data), "hour/x.avro", fmt="avro"))


def test_the_avro_magic_decides_before_the_name(tmp_path) -> None:
    path = write_avro(tmp_path / "misnamed.json", [open_record(n) for n in range(3)])
    with path.open("rb") as stream:
        events = list(iter_events(stream, "misnamed.json", fmt="json"))
    assert [event["id"] for event in events] == [open_record(n)["id"] for n in range(3)]


def test_avro_schema_without_id_or_time_is_not_a_braze_file(tmp_path) -> None:
    schema = {**OPEN_SCHEMA, "fields": [f for f in OPEN_SCHEMA["fields"] if f["name"] != "time"]}
    record = {k: v for k, v in open_record(1).items() if k != "time"}
    path = write_avro(tmp_path / "s.avro", [record], schema=schema)
    with pytest.raises(CorruptFileError, match=r"lacks required field\(s\) \['time'\]"):
        _read(path.read_bytes())


def _http(number: int, **extra) -> dict:
    return {"event_type": "users.messages.email.Open", "id": f"id{number}", "time": 100 + number,
            "user": {"external_user_id": f"e{number}"}, "properties": {"n": number}, **extra}


def test_json_envelope_bare_event_and_ndjson() -> None:
    envelope = orjson.dumps({"events": [_http(1), _http(2)]})
    assert [e["id"] for e in _read(envelope)] == ["id1", "id2"]
    pretty = orjson.dumps(_http(3), option=orjson.OPT_INDENT_2)
    assert [e["id"] for e in _read(pretty)] == ["id3"]
    ndjson = b"\n".join([orjson.dumps(_http(4)), b"", orjson.dumps({"events": [_http(5), _http(6)]})])
    assert [e["id"] for e in _read(ndjson)] == ["id4", "id5", "id6"]


def test_gzip_json() -> None:
    data = gzip.compress(b"\n".join(orjson.dumps({"events": [_http(n)]}) for n in range(3)))
    assert [e["id"] for e in _read(data, "x.json.gz")] == ["id0", "id1", "id2"]


def test_corrupt_json_line_is_reported_with_its_line_number() -> None:
    data = b"\n".join([orjson.dumps(_http(1)), orjson.dumps(_http(2)), b'{"id": "broken', orjson.dumps(_http(4))])
    kept: list = []
    with pytest.raises(CorruptFileError) as raised:
        for event in iter_events(io.BytesIO(data), "bodies.ndjson"):
            kept.append(event)
    assert raised.value.line == 3 and raised.value.record_index == 2
    assert "line 3" in str(raised.value) and [e["id"] for e in kept] == ["id1", "id2"]


@pytest.mark.parametrize(
    ("document", "message"),
    [({"something": []}, "neither"), ({"events": {"id": "x"}}, "not a list")],
)
def test_bad_envelopes(document: dict, message: str) -> None:
    with pytest.raises(CorruptFileError, match=message):
        _read(orjson.dumps(document))


def test_invalid_events_come_back_as_bad_events_and_reading_goes_on() -> None:
    events = _read(orjson.dumps({"events": [_http(1), {"event_type": "x", "time": 5}, _http(3, time="soon"), 7, _http(4)]}))
    assert [e["id"] for e in events if isinstance(e, dict)] == ["id1", "id4"]
    bad = [e for e in events if isinstance(e, BadEvent)]
    assert [b.record_index for b in bad] == [1, 2, 3]
    assert "no string `id`" in bad[0].reason and "not integer" in bad[1].reason and "not an object" in bad[2].reason


def test_unknown_fields_and_missing_user_fields_pass_through() -> None:
    (event,) = _read(orjson.dumps({"event_type": "users.brand.NewThing", "id": "n", "time": 1, "user": {},
                                   "properties": {"novel": {"deep": [1]}}}))
    assert event["user"] == {} and event["properties"] == {"novel": {"deep": [1]}}
