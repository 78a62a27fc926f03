"""`braze-td` commands, run as a user runs them (a real subprocess) or through `main` for speed."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pendulum

from airflow_braze_td.cli import main
from airflow_braze_td.currents.layout import staged_key
from tests.conftest import open_record, write_avro

HOUR = pendulum.datetime(2026, 11, 30, 9, tz="UTC")


def _tree(tmp_path):
    for offset, event_type in ((1, "users.messages.email.Open"), (2, "users.messages.email.Click")):
        key = staged_key(event_type=event_type, queue_hour=HOUR, partition=0, offset=offset)
        write_avro(tmp_path / "staging" / key, [open_record(offset * 10 + n) for n in range(3)])
    (tmp_path / "staging" / "README.txt").write_text("not an export")
    return tmp_path / "staging"


def test_events_prints_normalised_json_lines_in_file_order(tmp_path, capsysbinary):
    staging = _tree(tmp_path)
    assert main(["events", str(staging), "--event-type", "users.message.email.Open"]) == 0
    out, err = capsysbinary.readouterr()
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert [event["id"] for event in lines] == [open_record(n)["id"] for n in (10, 11, 12)]
    assert all(event["event_type"] == "users.messages.email.Open" for event in lines)
    assert out.splitlines()[0].startswith(b'{"event_type":"users.messages.email.Open","id":')
    assert b"1 key(s) match no Braze layout" in err


def test_events_of_a_single_file_and_a_corrupt_one(tmp_path, capsysbinary):
    path = write_avro(tmp_path / "one.avro", [open_record(n) for n in range(2_000)])
    assert main(["events", str(path)]) == 0
    assert len(capsysbinary.readouterr()[0].splitlines()) == 2_000
    path.write_bytes(path.read_bytes()[:5_000])
    assert main(["events", str(path)]) == 1
    out, err = capsysbinary.readouterr()
    assert b"truncated file" in err and out.count(b"\n") > 0


def test_status_reports_pending_files_and_lag(tmp_path, capsys):
    staging = _tree(tmp_path)
    assert main(["status", "--staging", str(staging), "--ledger", str(tmp_path / "ledger"), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["pending_files"] == 2 and report["delivered_files"] == 0 and report["unmatched_keys"] == 1
    assert report["oldest_pending_hour"].startswith("2026-11-30T09") and report["lag_hours"] > 0
    assert main(["status", "--staging", str(staging), "--ledger", str(tmp_path / "ledger")]) == 0
    text = capsys.readouterr().out
    assert "users.messages.email.Click" in text and "lag:" in text and "hours left" in text


def test_installed_console_script_stages_a_sample(tmp_path):
    command = [sys.executable, "-m", "airflow_braze_td.cli", "stage-sample", str(tmp_path / "s"), "--events", "500",
               "--hours", "1", "--seed", "3", "--end", "2026-11-30T10:00:00Z"]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = orjson.loads(first.stdout)
    assert summary["unique_ids"] == 500 and summary["files"] > 1
    assert summary["first_hour"].startswith("2026-11-30T09")
