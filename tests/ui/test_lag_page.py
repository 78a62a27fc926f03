"""The lag page in a real `airflow api-server` (Airflow 3.1+), found through the provider's plugin entry alone:
Airflow's own login guards it, its JSON is `braze-td status --json`'s, and headless Chromium shows those figures.

One server for the module (a migrated SQLite database, SimpleAuthManager with one admin from a passwords file),
over a staging sample of which one event type was delivered to the emulator and the others wait.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pendulum
import pytest
import requests

from airflow_braze_td.compat import SERVES_FASTAPI_PLUGINS
from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.ledger import Ledger
from airflow_braze_td.delivery.pipeline import Delivery, DeliverySettings
from airflow_braze_td.emulator import Emulator
from tests.cli.conftest import braze_td
from tests.reliability.conftest import sink_for

if not SERVES_FASTAPI_PLUGINS:
    pytest.skip("the lag page is an Airflow 3.1+ UI plugin; Airflow 2.11 skips it", allow_module_level=True)

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DELIVERED_TYPES = "users.messages.email.*"
PASSWORD = "lag-page-test"
# Figures that do not move with the clock; the lag and hours left move with `checked_at` (below).
STEADY = ("staged_files", "delivered_files", "pending_files", "quarantined_files", "pending_mb", "by_hour",
          "oldest_pending_key", "last_errors", "dedupe", "ledger_found", "level", "thresholds", "unmatched_keys")


@dataclass
class Server:
    url: str
    staging: Path
    ledger: Path

    def token(self) -> str:
        answer = requests.post(f"{self.url}/auth/token", json={"username": "admin", "password": PASSWORD}, timeout=30)
        answer.raise_for_status()
        return answer.json()["access_token"]

    def status_json(self, token: str) -> dict:
        answer = requests.get(f"{self.url}/braze-td/status.json", headers={"Authorization": f"Bearer {token}"},
                              timeout=60)
        answer.raise_for_status()
        (source,) = answer.json()["sources"]
        return source


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stage_and_deliver_part(root: Path) -> None:
    """Three hours of sample files; the email types delivered to the emulator, an error recorded for the rest."""
    stage_sample(str(root / "staging"), events=600, hours=3, seed=4, end=pendulum.now("UTC").subtract(hours=1))
    area, ledger = StagingArea.from_url(str(root / "staging")), Ledger.from_url(str(root / "ledger"))
    with Emulator() as emulator:
        files = area.list().select(EventTypeSelector([DELIVERED_TYPES]))
        Delivery(area, sink_for(emulator.url), ledger, DeliverySettings(), "lag-page-test").run(files)
    ledger.record_error("table braze.currents: 404 Not Found", destination="postback to braze.currents via test",
                        event_types=["users.behaviors.app.SessionStart"])


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("lag-page")
    _stage_and_deliver_part(root)
    (root / "dags").mkdir()
    (root / "passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    port = _free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AIRFLOW_", "AIRFLOW__", "BRAZE_TD_"))}
    env.update(
        AIRFLOW_HOME=str(root / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(root / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(root / "passwords.json"),
        AIRFLOW__API_AUTH__JWT_SECRET="lag-page-test-secret",
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__BRAZE_TD__LAG_PAGE_SOURCES=json.dumps(
            [{"name": "demo", "staging_url": str(root / "staging"), "ledger_url": str(root / "ledger")}]),
    )
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    log = (root / "api-server.log").open("wb")
    process = subprocess.Popen([AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1", "--apps", "core"],
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the API server did not start:\n{(root / 'api-server.log').read_text()[-4000:]}")
            time.sleep(0.5)
        yield Server(url, root / "staging", root / "ledger")
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def test_without_a_login_the_page_and_its_json_are_refused(server):
    for path in ("/braze-td/", "/braze-td/status.json"):
        assert requests.get(server.url + path, timeout=30).status_code == 401
        forged = requests.get(server.url + path, headers={"Authorization": "Bearer not-a-token"}, timeout=30)
        assert forged.status_code == 403
        assert requests.get(server.url + path, cookies={"_token": "not-a-token"}, timeout=30).status_code == 403


def test_the_json_is_braze_td_status_json(server):
    """The same figures as the command; the lag differs only by the time between the two checks."""
    page = server.status_json(server.token())["status"]
    command = braze_td("status", "--staging", server.staging, "--ledger", server.ledger, "--json")
    status = orjson.loads(command.stdout)
    assert command.returncode == status.pop("exit_code")
    assert {name: page[name] for name in STEADY} == {name: status[name] for name in STEADY}
    assert page["pending_files"] > 0 and page["delivered_files"] > 0
    assert page.keys() == status.keys()
    elapsed = (pendulum.parse(status["checked_at"]) - pendulum.parse(page["checked_at"])).total_seconds() / 3600
    assert abs(status["lag_hours"] - page["lag_hours"] - elapsed) <= 0.002
    assert [row["event_type"] for row in page["by_event_type"]] == [row["event_type"] for row in status["by_event_type"]]


def test_the_plugin_is_in_the_ui_navigation(server):
    answer = requests.get(f"{server.url}/api/v2/plugins", headers={"Authorization": f"Bearer {server.token()}"},
                          timeout=30)
    views = [view for plugin in answer.json()["plugins"] for view in plugin["external_views"]]
    assert {"name": "Braze → TD", "href": "/braze-td/", "url_route": "braze-td"}.items() <= views[0].items()


def test_chromium_shows_the_json_figures(server, tmp_path):
    """Logged in through Airflow's token endpoint, the page in headless Chromium shows the JSON's figures. The
    README's screenshot: BRAZE_TD_SCREENSHOT=docs/lag-page.png .venv/bin/python -m pytest tests/ui/test_lag_page.py
    (else it goes to a temporary folder, so a test run leaves the checkout as it found it)."""
    screenshot = Path(os.environ.get("BRAZE_TD_SCREENSHOT") or tmp_path / "lag-page.png")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    token = server.token()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 900})
            context.add_cookies([{"name": "_token", "value": token, "url": server.url}])
            page = context.new_page()
            assert page.goto(f"{server.url}/braze-td/").status == 200
            shown_at = page.text_content("[data-field=checked_at]")
            shown = {cell.get_attribute("data-field"): cell.text_content()
                     for cell in page.query_selector_all("section > table:first-of-type td[data-field]")}
            rows = {(cell.get_attribute("data-event-type"), cell.get_attribute("data-field")): cell.text_content()
                    for cell in page.query_selector_all("td[data-event-type]")}
            lines = {line.get_attribute("data-name"): float(line.get_attribute("data-hours"))
                     for line in page.query_selector_all("line.threshold")}
            bars = sum(int(bar.get_attribute("data-events")) for bar in page.query_selector_all("rect.delivered"))
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    status = server.status_json(token)["status"]
    elapsed = (pendulum.parse(status["checked_at"]) - pendulum.parse(shown_at)).total_seconds() / 3600
    assert abs(status["lag_hours"] - float(shown["lag_hours"]) - elapsed) <= 0.002
    for name in ("pending_files", "pending_mb", "quarantined_files"):
        assert shown[name] == str(status[name])
    for row in status["by_event_type"]:
        assert rows[(row["event_type"], "pending_files")] == str(row["pending_files"])
        assert rows[(row["event_type"], "last_error")] == (row["last_error"]["message"] if row["last_error"] else "")
    assert lines == {"warn": 6.0, "fail": 36.0, "loss window": 48.0}
    assert bars == sum(point["delivered_events"] for point in status["history"]) > 0
