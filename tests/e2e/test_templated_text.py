"""A user's DAG without `render_template_as_native_obj`: params set to false arrive as the text "False", and
the operator must read it as false (Python's truth would read it as true)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pendulum

from airflow_braze_td.currents.decode import BadEvent
from airflow_braze_td.currents.sample import stage_sample
from airflow_braze_td.currents.staging import StagingArea
from tests.delivery.conftest import delivered_ids
from tests.e2e.conftest import dag_test

DAGS = Path(__file__).resolve().parent / "dags"


def staged_ids(root: Path) -> tuple[set[str], set[str]]:
    """Distinct ids staged under `root`: all of them, and those of users without an external id."""
    area = StagingArea.from_url(str(root))
    every, anonymous = set(), set()
    for staged in area.list().files:
        for event in area.iter_events(staged):
            assert not isinstance(event, BadEvent)
            every.add(event["id"])
            if not event["user"].get("external_user_id"):
                anonymous.add(event["id"])
    return every, anonymous


def test_booleans_templated_as_text_mean_what_they_say(airflow_home, emulator, tmp_path):
    stage_sample(str(tmp_path / "staging"), events=800, hours=1, seed=21,
                 end=pendulum.datetime(2026, 11, 30, 10, tz="UTC"))
    every, anonymous = staged_ids(tmp_path / "staging")
    assert anonymous, "the sample must hold users without an external id"
    conf = {"staging_url": str(tmp_path / "staging"), "ledger_url": str(tmp_path / "ledger"),
            "require_external_user_id": False, "replay": False}
    for _ in range(2):  # the second run is the same run again, as a Clear makes it
        run = dag_test(airflow_home, emulator.url, conf, dag_id="braze_td_templated_text", dags_folder=DAGS)
        assert run.returncode == 0, run.stdout[-4000:]
        assert delivered_ids(emulator) == Counter(every)
