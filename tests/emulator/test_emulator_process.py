"""The emulator as a subprocess: announces its URL, serves, stops on SIGTERM."""

from __future__ import annotations

import requests

from airflow_braze_td.emulator import start_emulator_process

MASTER = "7/" + "e" * 40


def test_subprocess_starts_serves_and_stops():
    process = start_emulator_process(port=0, api_keys=(MASTER,), strict_postback=True)
    try:
        assert process.url.startswith("http://127.0.0.1:")
        with requests.Session() as session:
            url = f"{process.url}/postback/v3/event/proc_db/events"
            assert session.post(url, json={"n": 1}, headers={"X-TD-Write-Key": MASTER}).status_code == 200
            assert session.post(url, json={"n": 2}, headers={"X-TD-Write-Key": "7/" + "f" * 40}).status_code == 403
            assert session.get(f"{process.url}/_emulator/count/proc_db/events").json() == {"count": 1}
    finally:
        process.stop()
    assert process.popen.returncode == 0
