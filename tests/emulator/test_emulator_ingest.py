"""Data Ingestion API (records.in): receipts per record, 206 partials, size limits."""

from __future__ import annotations

import gzip

import orjson

from airflow_braze_td.emulator import Fault


def test_batch_is_stored_row_per_record_without_uuid(emu, td):
    events = [{"time": 1, "uuid": "drop-me", "n": 1}, {"time": 2, "n": 2}]
    reply = td.ingest("ing_db", "events", {"events": events})
    assert (reply.status_code, reply.json()) == (200, {"receipts": [{"success": True}, {"success": True}]})
    assert emu.rows("ing_db", "events") == [{"time": 1, "n": 1}, {"time": 2, "n": 2}]


def test_single_record_and_gzip_encoding(emu, td, ingest_types):
    assert td.ingest("ing_db", "events", {"n": 1}, content_type=ingest_types["single"]).status_code == 200
    zipped = gzip.compress(orjson.dumps({"events": [{"n": 2}]}))
    assert td.ingest("ing_db", "events", zipped, headers={"Content-Encoding": "gzip"}).status_code == 200
    assert emu.rows("ing_db", "events") == [{"n": 1}, {"n": 2}]


def test_invalid_records_fail_in_their_receipts_with_206(emu, td):
    huge = {"blob": "x" * 1_000_001}
    reply = td.ingest("ing_db", "events", {"events": [{"n": 1}, "not an object", huge, {"n": 4}]})
    assert reply.status_code == 206
    receipts = reply.json()["receipts"]
    assert [r["success"] for r in receipts] == [True, False, False, True]
    assert {r["error"]["name"] for r in receipts if not r["success"]} == {"InvalidRecord"}
    assert not any(r["error"]["retryable"] for r in receipts if not r["success"])
    assert emu.rows("ing_db", "events") == [{"n": 1}, {"n": 4}]


def test_partial_fault_fails_chosen_records_retryably(emu, td):
    emu.push_faults(Fault(kind="partial", fail_records=(0, 3)))
    reply = td.ingest("ing_db", "events", {"events": [{"n": n} for n in range(5)]})
    assert reply.status_code == 206
    failed = [(i, r["error"]) for i, r in enumerate(reply.json()["receipts"]) if not r["success"]]
    assert [i for i, _ in failed] == [0, 3]
    assert all(e["name"] == "InternalError" and e["retryable"] for _, e in failed)
    assert [row["n"] for row in emu.rows("ing_db", "events")] == [1, 2, 4]
    assert emu.fault_counts() == {"partial": 1}


def test_record_and_request_limits(emu, td):
    assert td.ingest("ing_db", "events", {"events": [{"n": n} for n in range(500)]}).status_code == 200
    assert td.ingest("ing_db", "events", {"events": [{"n": n} for n in range(501)]}).status_code == 413
    assert td.ingest("ing_db", "events", {"events": []}).status_code == 400
    six_records_of_900k = {"events": [{"blob": "x" * 900_000} for _ in range(6)]}
    assert td.ingest("ing_db", "events", six_records_of_900k).status_code == 413
    bomb = gzip.compress(orjson.dumps({"events": [{"blob": "x" * 5_000_000}]}))
    assert td.ingest("ing_db", "events", bomb, headers={"Content-Encoding": "gzip"}).status_code == 413
    assert emu.count("ing_db", "events") == 500


def test_malformed_requests(emu, td):
    assert td.ingest("ing_db", "events", {"events": [{"n": 1}]}, content_type="application/json").status_code == 415
    assert td.ingest("ing_db", "events", b"{nope").status_code == 400
    assert td.ingest("ing_db", "events", {"records": []}).status_code == 400
    assert td.ingest("ing_db", "events", b"junk", headers={"Content-Encoding": "gzip"}).status_code == 400
    assert td.ingest("Bad_db", "events", {"events": [{"n": 1}]}).status_code == 400
    assert emu.count("ing_db", "events") == 0


def test_keys(keyed_emu, keyed_td, keys):
    body = {"events": [{"n": 1}]}
    assert keyed_td.ingest("ing_db", "events", body, key=keys["write"]).status_code == 200
    assert keyed_td.ingest("ing_db", "events", body, key=keys["other"]).status_code == 401
    assert keyed_td.ingest("ing_db", "events", body, key=None).status_code == 401
    assert keyed_emu.count("ing_db", "events") == 1
