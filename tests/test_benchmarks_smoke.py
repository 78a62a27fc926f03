"""The benchmarks run end to end at their `--quick` size and write every figure they promise (not how fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
THROUGHPUT_KEYS = {"floor_eps", "project_eps", "baseline_eps", "project_vs_floor", "project_vs_baseline",
                   "project_vs_floor_cpu", "ceiling_eps_cpu", "ceiling_vs_floor_cpu", "ceiling_vs_baseline",
                   "scale_2_workers", "peak_rss_mb"}


def _run(script: str, tmp_path: Path) -> dict:
    out = tmp_path / f"{script}.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.timeout(300)
def test_throughput_quick_writes_every_figure(tmp_path):
    result = _run("throughput.py", tmp_path)
    assert THROUGHPUT_KEYS <= set(result)
    assert set(result["project_eps"]) == set(result["project_vs_floor"]) == set(result["project_vs_floor_cpu"]) \
        == {"postback", "import"}
    assert set(result["project_vs_baseline"]) == set(result["ceiling_vs_floor_cpu"]) \
        == set(result["ceiling_vs_baseline"]) == {"postback", "import"}
    ceilings = (*result["ceiling_vs_floor_cpu"].values(), *result["ceiling_vs_baseline"].values())
    assert all(ratio > 0 for ratio in ceilings)
    assert set(result["peak_rss_mb"]) == {"n", "4n"}
    assert result["floor_eps"] > 0 and result["baseline_eps"] > 0 and result["scale_2_workers"] > 0
    assert result["floor_scale_2_cores"] > 0
    for mode in ("postback", "import"):  # the sample export is Avro with codec null: every file columnar
        assert result["files_columnar"][mode] == result["files"] and result["files_fastavro"][mode] == {}


@pytest.mark.timeout(300)
def test_airflow_e2e_quick_writes_its_figures(tmp_path):
    result = _run("airflow_e2e.py", tmp_path)
    assert {"airflow_seconds", "fixed_seconds", "delivery_seconds", "floor_seconds", "ratio_to_floor"} <= set(result)
    assert result["sent"] > 0


@pytest.mark.timeout(300)
def test_dedupe_window_quick_writes_its_figures(tmp_path):
    result = _run("dedupe_window.py", tmp_path)
    assert set(result["window"]) == {"48", "1"}
    assert result["window"]["48"]["bytes_per_id"] <= 16 and result["window"]["48"]["ids_held"] > 0
    assert set(result["throughput"]["eps"]) == {"1", "48"} and result["throughput"]["ratio_48_to_1"] > 0
    assert result["false_positives"]["measured"] >= 0 and result["sets"]["set_of_hashes_bytes_per_id"] > 16
