"""REST control plane: databases and tables, master keys only."""

from __future__ import annotations


def test_create_database(td):
    reply = td.control("POST", "database/create/cp_db")
    assert (reply.status_code, reply.json()) == (200, {"database": "cp_db"})
    assert td.control("POST", "database/create/cp_db").status_code == 409
    assert td.control("POST", "database/create/no").status_code == 400
    assert [d["name"] for d in td.control("GET", "database/list").json()["databases"]] == ["cp_db"]


def test_create_table_with_or_without_type(td):
    assert td.control("POST", "table/create/cp_db/events/log").status_code == 404
    td.control("POST", "database/create/cp_db")
    reply = td.control("POST", "table/create/cp_db/events/log")
    assert (reply.status_code, reply.json()) == (200, {"database": "cp_db", "table": "events", "type": "log"})
    assert td.control("POST", "table/create/cp_db/other").status_code == 200
    assert td.control("POST", "table/create/cp_db/events/log").status_code == 409
    assert td.control("POST", "table/create/cp_db/x/log").status_code == 400


def test_list_and_show_tables_count_rows(td):
    td.create_table("cp_db", "events")
    td.postback("cp_db", "events", {"n": 1})
    td.postback("cp_db", "events", {"n": 2})
    listing = td.control("GET", "table/list/cp_db").json()
    assert listing["database"] == "cp_db"
    assert [(t["name"], t["count"], t["type"]) for t in listing["tables"]] == [("events", 2, "log")]
    shown = td.control("GET", "table/show/cp_db/events").json()
    assert (shown["name"], shown["count"]) == ("events", 2)
    assert td.control("GET", "table/show/cp_db/missing").status_code == 404
    assert td.control("GET", "table/list/none_db").status_code == 404


def test_write_only_key_is_403_and_bad_key_401(keyed_td, keys):
    assert keyed_td.control("POST", "database/create/cp_db", keys["write"]).status_code == 403
    assert keyed_td.control("GET", "database/list", keys["write"]).status_code == 403
    assert keyed_td.control("GET", "database/list", keys["other"]).status_code == 401
    reply = keyed_td.control("GET", "database/list", None)
    assert reply.status_code == 401
    assert set(reply.json()) == {"error", "message"}
    assert keyed_td.control("GET", "database/list", keys["master"]).status_code == 200


def test_unknown_paths_and_methods(td):
    assert td.control("GET", "nothing/here").status_code == 404
    assert td.control("GET", "database/create/cp_db").status_code == 405
    assert td.session.get(f"{td.url}/ing_db/events").status_code == 405
