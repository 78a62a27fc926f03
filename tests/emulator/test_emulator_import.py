"""Import API: msgpack.gz bodies, 404 on missing tables, dedupe by unique_id, and td-client as a reference."""

from __future__ import annotations

import gzip
import hashlib

import msgpack
import pytest
import tdclient

ROWS = [{"time": 1700000000 + i, "event": "open", "user_id": f"u{i}"} for i in range(5)]


def test_import_with_id_stores_rows_and_echoes_md5(emu, td, msgpack_gz):
    td.create_table("imp_db", "events")
    body = msgpack_gz(ROWS)
    reply = td.import_rows("imp_db", "events", body, unique_id="0123abcdef")
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["md5_hex"] == hashlib.md5(body).hexdigest()
    assert (answer["database"], answer["table"], answer["unique_id"]) == ("imp_db", "events", "0123abcdef")
    assert isinstance(answer["elapsed_time"], float)
    assert emu.rows("imp_db", "events") == ROWS


def test_same_unique_id_is_stored_once_per_table(emu, td, msgpack_gz):
    td.create_table("imp_db", "events")
    td.create_table("imp_db", "other")
    body = msgpack_gz(ROWS)
    first = td.import_rows("imp_db", "events", body, unique_id="feed")
    again = td.import_rows("imp_db", "events", body, unique_id="feed")
    elsewhere = td.import_rows("imp_db", "other", body, unique_id="feed")
    assert [r.status_code for r in (first, again, elsewhere)] == [200, 200, 200]
    assert again.json()["md5_hex"] == first.json()["md5_hex"]
    assert (emu.count("imp_db", "events"), emu.count("imp_db", "other")) == (5, 5)
    notes = [entry["note"] for entry in emu.requests() if "/import_with_id/" in entry["path"]]
    assert notes == [None, "dropped: duplicate unique_id", None]


def test_import_without_id_is_not_deduplicated(emu, td, msgpack_gz):
    td.create_table("imp_db", "events")
    for _ in range(2):
        reply = td.import_rows("imp_db", "events", msgpack_gz(ROWS[:2]))
        assert (reply.status_code, reply.json()["unique_id"]) == (200, None)
    assert emu.count("imp_db", "events") == 4


def test_missing_database_or_table_is_404(td, msgpack_gz):
    assert td.import_rows("nodb_db", "events", msgpack_gz(ROWS), unique_id="aa").status_code == 404
    td.control("POST", "database/create/imp_db")
    reply = td.import_rows("imp_db", "missing", msgpack_gz(ROWS), unique_id="aa")
    assert reply.status_code == 404
    assert set(reply.json()) == {"error", "message"}


def test_empty_gzip_body_is_an_existence_probe(emu, td, keys):
    assert td.import_rows("imp_db", "events", gzip.compress(b""), unique_id="ab", key=keys["master"]).status_code == 404
    td.create_table("imp_db", "events")
    assert td.import_rows("imp_db", "events", gzip.compress(b""), unique_id="ab").status_code == 200
    assert td.import_rows("imp_db", "events", b"").status_code == 200
    assert emu.count("imp_db", "events") == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not gzip at all",
        gzip.compress(b"\xc1\xc1\xc1"),  # 0xc1 is never valid msgpack
        gzip.compress(msgpack.packb({"time": 1})[:-1]),  # truncated map
        gzip.compress(msgpack.packb([1, 2, 3])),  # a row that is not a map
        gzip.compress(msgpack.packb({"time": 1}))[:-4],  # truncated gzip
    ],
    ids=["bad-gzip", "bad-msgpack", "truncated-msgpack", "not-a-map", "truncated-gzip"],
)
def test_undecodable_body_is_400(emu, td, body):
    td.create_table("imp_db", "events")
    assert td.import_rows("imp_db", "events", body, unique_id="aa").status_code == 400
    assert emu.count("imp_db", "events") == 0


@pytest.mark.parametrize("unique_id", ["ABCDEF", "xyz", "12-34"])
def test_unique_id_must_be_lower_case_hex(td, msgpack_gz, unique_id):
    td.create_table("imp_db", "events")
    assert td.import_rows("imp_db", "events", msgpack_gz(ROWS), unique_id=unique_id).status_code == 400


def test_only_msgpack_gz_is_supported(td, session, msgpack_gz):
    td.create_table("imp_db", "events")
    url = f"{td.url}/v3/table/import_with_id/imp_db/events/aa/json.gz"
    assert session.put(url, data=msgpack_gz(ROWS), headers=td.auth("1/" + "0" * 40)).status_code == 400


def test_write_only_key_imports_and_bad_keys_are_401(keyed_emu, keyed_td, keys, msgpack_gz):
    keyed_td.create_table("imp_db", "events")
    body = msgpack_gz(ROWS)
    assert keyed_td.import_rows("imp_db", "events", body, unique_id="01", key=keys["write"]).status_code == 200
    assert keyed_td.import_rows("imp_db", "events", body, unique_id="02", key=keys["other"]).status_code == 401
    assert keyed_td.import_rows("imp_db", "events", body, unique_id="03", key=None).status_code == 401
    assert keyed_emu.count("imp_db", "events") == 5


def test_td_client_import_with_id_twice_lands_once(emu, msgpack_gz):
    client = tdclient.Client(apikey="1001/" + "d" * 40, endpoint=emu.url)
    try:
        client.create_database("tdc_db")
        client.api.create_log_table("tdc_db", "events")
        body = msgpack_gz(ROWS)
        for _ in range(2):
            elapsed = client.api.import_data("tdc_db", "events", "msgpack.gz", body, len(body), unique_id="c0ffee")
            assert elapsed >= 0
        assert emu.rows("tdc_db", "events") == ROWS
        tables = client.api.list_tables("tdc_db")
        assert (tables["events"]["count"], tables["events"]["type"]) == (5, "log")
        assert "tdc_db" in client.api.list_databases()
        with pytest.raises(tdclient.errors.AlreadyExistsError):
            client.create_database("tdc_db")
        with pytest.raises(tdclient.errors.NotFoundError):
            client.api.import_data("tdc_db", "missing", "msgpack.gz", body, len(body), unique_id="c0ffee")
    finally:
        client.close()
