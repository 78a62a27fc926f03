"""The chaos benchmark at CI size: 50,000 events, 3 SIGKILLs per mode, 20 % of TD requests failing.

It runs `benchmarks/chaos.py` as a subprocess (in its own process group, so a timeout also ends the tries
and emulators it started) and checks its JSON report against the guarantees: no eligible event lost in any
mode, no duplicate through the idempotent Import API, and postback and ingest duplicates within their bound:
the requests in flight per killed or failed try, and one batch per ambiguous answer (postback: whole re-sent
batches only). An outage per mode makes one try give up with an exception, retried like the killed ones.
Every catalog event type, one queue hour: about 2,000 staged files; the run takes about a minute.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_braze_td.treasure_data.sinks import SINK_CLASSES

ROOT = Path(__file__).resolve().parents[2]
CHAOS = ROOT / "benchmarks" / "chaos.py"
KILLS = 3
RUN_TIMEOUT_SECONDS = 240
AMBIGUOUS_KINDS = ("slow", "store_then_500")


def run_chaos(workdir: Path, report: Path) -> subprocess.CompletedProcess:
    """The benchmark, bounded: on timeout its whole process group (tries, emulators) is SIGKILLed."""
    command = [
        sys.executable, str(CHAOS), "--events", "50000", "--kills", str(KILLS),
        "--json", str(report), "--workdir", str(workdir),
        "--deadline", "200", "--stall-seconds", "60",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the chaos run did not finish in {RUN_TIMEOUT_SECONDS} s:\n{output[-4000:]}")
    return subprocess.CompletedProcess(command, process.returncode, output)


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 30)
def test_chaos_run_loses_nothing_and_bounds_duplicates(tmp_path):
    report_path = tmp_path / "chaos.json"
    run = run_chaos(tmp_path / "work", report_path)
    print(run.stdout)  # the per-mode table, for the CI log
    assert run.returncode == 0, run.stdout[-6000:]
    report = json.loads(report_path.read_text())
    assert set(report) == {"import", "postback", "ingest"}
    for mode, figures in report.items():
        assert figures["lost"] == 0, (mode, figures)
        assert figures["kills"] >= KILLS, (mode, figures)
        assert figures["failed_tries"] >= 1, (mode, figures)  # the outage made a try give up; the next resumed
        assert figures["events"] > 40_000, (mode, figures)
        assert figures["partial_duplicates"] == 0, (mode, figures)
    assert report["import"]["duplicated"] == 0, report["import"]
    for mode in ("postback", "ingest"):
        figures = report[mode]
        assert sum(figures["faults"].values()) > 0, figures
        sink = SINK_CLASSES[mode]
        resends = (figures["kills"] + figures["failed_tries"]) * sink.requests_in_flight + sum(
            figures["faults"].get(kind, 0) for kind in AMBIGUOUS_KINDS)
        assert figures["duplicate_batches"] <= resends, figures
        assert figures["duplicated"] <= resends * sink.default_limits.max_events, figures
