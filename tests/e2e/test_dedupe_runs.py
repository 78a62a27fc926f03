"""Dedupe across separate DAG runs of the example DAG: copies staged up to 47 queue hours after the first land
once; a copy 49 hours later is delivered, and `braze-td status` counts it."""

from __future__ import annotations

from collections import Counter

import orjson

from airflow_braze_td.cli import main
from tests.delivery.conftest import delivered_ids
from tests.delivery.test_dedupe_window import CLICK, COPIES, OPEN, RUNS, TOO_LATE, stage_run
from tests.e2e.conftest import dag_test
from tests.e2e.test_dag_runs import conf_for


def test_copies_across_dag_runs_land_once_and_a_copy_past_the_window_is_reported(airflow_home, emulator, tmp_path,
                                                                                  capsys):
    conf = conf_for(tmp_path, "postback")
    bases = {OPEN: 0, CLICK: 10_000}
    for number, runs in enumerate((RUNS[:2], RUNS[2:])):
        for hours_after in runs:
            for event_type, base in bases.items():
                stage_run(tmp_path / "staging", event_type, base, hours_after)
        done = dag_test(airflow_home, emulator.url, conf, logical_date=f"2026-11-30T1{number}:00:00+00:00")
        assert done.returncode == 0, done.stdout[-4000:]
    expected = Counter()
    for base in bases.values():
        numbers = [*range(1, 61), *(n for after in (*COPIES, TOO_LATE[0]) for n in range(100 + after * 10,
                                                                                      105 + after * 10)),
                   *TOO_LATE[1]]
        expected.update(f"00000000-0000-4000-8000-{base + number:012d}" for number in numbers)
    assert delivered_ids(emulator) == expected
    main(["status", "--staging", str(tmp_path / "staging"), "--ledger", str(tmp_path / "ledger"), "--json"])
    dedupe = orjson.loads(capsys.readouterr().out)["dedupe"]
    assert dedupe["duplicates_delivered"] == 10 and dedupe["distinct_ids"] == len(expected)
