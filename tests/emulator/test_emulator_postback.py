"""Postback API: one JSON object is one row; lenient about keys the way TD is."""

from __future__ import annotations

import orjson

from airflow_braze_td.emulator import Emulator

POSTBACK_LIMIT = 1_048_064


def test_braze_batch_is_one_row_and_body_is_kept_byte_for_byte(emu, td):
    body = b'{"events":  [{"id": "e1", "name": "caf\xc3\xa9"}, {"id": "e2"}],\n "n": 2}'
    reply = td.postback("braze_db", "currents", body)
    assert (reply.status_code, reply.json()) == (200, {})
    assert emu.rows("braze_db", "currents") == [{"events": [{"id": "e1", "name": "café"}, {"id": "e2"}], "n": 2}]
    assert emu.postback_bodies("braze_db", "currents") == [body]
    assert emu.count("braze_db", "currents") == 1


def test_database_and_table_are_created_on_first_write(td):
    td.postback("fresh_db", "fresh_table", {"a": 1})
    listing = td.control("GET", "table/list/fresh_db").json()
    assert [(t["name"], t["count"]) for t in listing["tables"]] == [("fresh_table", 1)]


def test_key_in_query_authorization_or_header(emu, td, keys):
    td.postback("keys_db", "events", {"via": "query"}, key=None, params={"td_write_key": keys["master"]})
    td.postback("keys_db", "events", {"via": "td1"}, key=None, headers={"Authorization": f"TD1 {keys['master']}"})
    td.postback("keys_db", "events", {"via": "header"}, key=keys["master"])
    assert [row["via"] for row in emu.rows("keys_db", "events")] == ["query", "td1", "header"]


def test_header_key_wins_over_query_key(keyed_emu, keyed_td, keys):
    keyed_td.postback("keys_db", "events", {"n": 1}, key=keys["write"], params={"td_write_key": keys["other"]})
    keyed_td.postback("keys_db", "events", {"n": 2}, key=keys["other"], params={"td_write_key": keys["write"]})
    assert keyed_emu.rows("keys_db", "events") == [{"n": 1}]


def test_lenient_bad_or_missing_key_answers_200_but_drops_the_row(keyed_emu, keyed_td, keys):
    bad = keyed_td.postback("keys_db", "events", {"n": 1}, key=None, params={"td_write_key": keys["other"]})
    missing = keyed_td.postback("keys_db", "events", {"n": 2}, key=None)
    assert (bad.status_code, bad.json(), missing.status_code) == (200, {}, 200)
    assert keyed_emu.count("keys_db", "events") == 0
    log = keyed_emu.requests()
    assert [entry["note"] for entry in log] == ["dropped: bad key", "dropped: bad key"]
    assert log[0]["path"] == "/postback/v3/event/keys_db/events?td_write_key=REDACTED"
    assert keys["other"] not in orjson.dumps(log).decode()


def test_malformed_key_is_bad_when_no_key_is_configured(emu, td):
    td.postback("keys_db", "events", {"n": 1}, key="not-a-td-key")
    assert emu.count("keys_db", "events") == 0


def test_strict_mode_answers_403_to_a_bad_key(session, keys):
    with Emulator(api_keys=(keys["master"],), strict_postback=True) as strict:
        url = f"{strict.url}/postback/v3/event/keys_db/events"
        assert session.post(url, json={"n": 1}, headers={"X-TD-Write-Key": keys["other"]}).status_code == 403
        assert session.post(url, json={"n": 1}).status_code == 403
        assert session.post(url, json={"n": 1}, headers={"X-TD-Write-Key": keys["master"]}).status_code == 200
        assert strict.count("keys_db", "events") == 1


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_413(emu, td):
    padding = POSTBACK_LIMIT - len(b'{"p":""}')
    at_limit = b'{"p":"' + b"x" * padding + b'"}'
    assert len(at_limit) == POSTBACK_LIMIT
    assert td.postback("big_db", "events", at_limit).status_code == 200
    over = td.postback("big_db", "events", at_limit[:-2] + b'x"}')
    assert over.status_code == 413
    assert set(over.json()) == {"error", "message"}
    assert emu.count("big_db", "events") == 1


def test_invalid_json_or_non_object_is_400(emu, td):
    assert td.postback("bad_db", "events", b'{"broken": ').status_code == 400
    assert td.postback("bad_db", "events", b"[1, 2]").status_code == 400
    assert emu.count("bad_db", "events") == 0


def test_invalid_names_are_400(td):
    for db, table in [("ab", "events"), ("Upper_db", "events"), ("good_db", "has-dash"), ("good_db", "x" * 256)]:
        assert td.postback(db, table, {"n": 1}).status_code == 400, (db, table)
