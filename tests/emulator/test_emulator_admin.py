"""Admin endpoints, the request log, visibility delay, persistence and HTTP plumbing."""

from __future__ import annotations

import http.client
import time

import orjson

from airflow_braze_td.emulator import Emulator


def test_admin_over_http(emu, td, msgpack_gz):
    assert td.admin("GET", "health").json() == {"status": "ok", "pending_faults": 0}
    queued = td.admin("POST", "faults", json=[{"status": 503}, {"status": 429, "retry_after": "2", "kind": "throttle"}])
    assert queued.json() == {"queued": 2, "pending": 2}
    assert td.postback("adm_db", "events", {"n": 1}).status_code == 503
    assert td.postback("adm_db", "events", {"n": 2}).headers["Retry-After"] == "2"
    assert td.admin("GET", "fault_counts").json() == {"503": 1, "throttle": 1}
    td.postback("adm_db", "events", {"n": 3})
    assert td.admin("GET", "rows/adm_db/events").json() == [{"n": 3}]
    assert td.admin("GET", "count/adm_db/events").json() == {"count": 1}
    log = td.admin("GET", "requests").json()
    assert [(e["method"], e["status"], e["fault"]) for e in log] == [
        ("POST", 503, "503"), ("POST", 429, "throttle"), ("POST", 200, None)
    ]
    assert log[2]["body_bytes"] == len(b'{"n":3}')


def test_admin_random_faults_and_reset(emu, td, msgpack_gz):
    assert td.admin("POST", "random_faults", json={"rate": 1.0, "kinds": ["502"], "seed": 1}).status_code == 200
    assert td.postback("adm_db", "events", {"n": 1}).status_code == 502
    assert td.admin("POST", "random_faults", json={"rate": 0}).status_code == 200
    td.create_table("adm_db", "imports")
    assert td.import_rows("adm_db", "imports", msgpack_gz([{"n": 1}]), unique_id="aa").status_code == 200
    assert td.admin("POST", "reset").status_code == 200
    assert (emu.count("adm_db", "imports"), emu.requests(), emu.fault_counts()) == (0, [], {})
    td.create_table("adm_db", "imports")
    td.import_rows("adm_db", "imports", msgpack_gz([{"n": 1}]), unique_id="aa")
    assert emu.count("adm_db", "imports") == 1  # reset forgot the unique_id too


def test_admin_rejects_bad_input(td):
    assert td.admin("POST", "faults", json=[{"colour": "red"}]).status_code == 400
    assert td.admin("POST", "faults", data=b"{nope").status_code == 400
    assert td.admin("POST", "random_faults", json={"rate": 1, "kinds": ["nope"]}).status_code == 400
    assert td.admin("GET", "nowhere").status_code == 404


def test_rows_show_only_after_the_visibility_delay(session):
    with Emulator(visibility_delay=0.3) as delayed:
        session.post(f"{delayed.url}/postback/v3/event/vis_db/events", json={"n": 1},
                     headers={"X-TD-Write-Key": "1/" + "a" * 40})
        assert (delayed.count("vis_db", "events"), delayed.rows("vis_db", "events")) == (0, [])
        time.sleep(0.35)
        assert (delayed.count("vis_db", "events"), delayed.rows("vis_db", "events")) == (1, [{"n": 1}])


def test_file_store_survives_a_restart_and_remembers_unique_ids(tmp_path, session, msgpack_gz):
    store = str(tmp_path / "td.sqlite")
    headers = {"Authorization": "TD1 1/" + "a" * 40}
    for _ in range(2):
        with Emulator(store=store) as emulator:
            session.post(f"{emulator.url}/v3/database/create/per_db", headers=headers)
            session.post(f"{emulator.url}/v3/table/create/per_db/events/log", headers=headers)
            url = f"{emulator.url}/v3/table/import_with_id/per_db/events/abc/msgpack.gz"
            assert session.put(url, data=msgpack_gz([{"n": 1}]), headers=headers).status_code == 200
            assert emulator.rows("per_db", "events") == [{"n": 1}]


def test_keep_alive_serves_several_requests_on_one_connection(emu):
    connection = http.client.HTTPConnection(emu.host, emu.port, timeout=5)
    try:
        for n in range(3):
            connection.request("POST", "/postback/v3/event/ka_db/events", body=orjson.dumps({"n": n}),
                               headers={"X-TD-Write-Key": "1/" + "a" * 40})
            answer = connection.getresponse()
            assert (answer.status, answer.read()) == (200, b"{}")
        assert connection.sock is not None
    finally:
        connection.close()
    assert emu.count("ka_db", "events") == 3


def test_chunked_body_and_doubled_slashes(emu, session):
    chunks = iter([b'{"events": [', b'{"n": 1}', b"]}"])
    reply = session.post(f"{emu.url}//postback//v3/event/chk_db/events", data=chunks,
                         headers={"X-TD-Write-Key": "1/" + "a" * 40})
    assert reply.status_code == 200
    assert emu.postback_bodies("chk_db", "events") == [b'{"events": [{"n": 1}]}']


def test_event_ids_name_what_each_stored_row_holds(emu, td, msgpack_gz):
    td.postback("ids_db", "batches", {"events": [{"id": "a"}, {"id": "b"}]})
    td.create_table("ids_db", "flat")
    assert td.import_rows("ids_db", "flat", msgpack_gz([{"id": "c", "time": 1}, {"id": "d", "time": 2}])).ok
    expected = [["a", "b"], ["c"], ["d"]]
    assert sorted(td.admin("GET", "event_ids/ids_db").json()) == expected
    assert sorted(emu.event_ids("ids_db")) == expected
    assert td.admin("GET", "fault_counts").json() == {}
