"""`braze-td` commands, run as a user runs them (a real subprocess) or through `main` for speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pendulum
import pytest

from airflow_braze_td.cli import main
from airflow_braze_td.cli.parser import build_parser
from airflow_braze_td.currents.layout import staged_key
from tests.cli.conftest import braze_td
from tests.conftest import open_record, write_avro

HOUR = pendulum.datetime(2026, 11, 30, 9, tz="UTC")


def _tree(tmp_path):
    for offset, event_type in ((1, "users.messages.email.Open"), (2, "users.messages.email.Click")):
        key = staged_key(event_type=event_type, queue_hour=HOUR, partition=0, offset=offset)
        write_avro(tmp_path / "staging" / key, [open_record(offset * 10 + n) for n in range(3)])
    (tmp_path / "staging" / "README.txt").write_text("not an export")
    return tmp_path / "staging"


def test_events_prints_normalised_json_lines_in_file_order(tmp_path):
    staging = _tree(tmp_path)
    result = braze_td("events", staging, "--event-type", "users.message.email.Open")
    assert result.returncode == 0
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [event["id"] for event in lines] == [open_record(n)["id"] for n in (10, 11, 12)]
    assert all(event["event_type"] == "users.messages.email.Open" for event in lines)
    assert result.stdout.splitlines()[0].startswith('{"event_type":"users.messages.email.Open","id":')
    assert result.stderr == (f"braze-td: 1 object(s) under file://{staging} match no Braze Currents key layout and "
                             "are not delivered, e.g. README.txt\n")


def test_events_of_a_single_file_and_a_corrupt_one(tmp_path, capsysbinary):
    path = write_avro(tmp_path / "one.avro", [open_record(n) for n in range(2_000)])
    assert main(["events", str(path)]) == 0
    assert len(capsysbinary.readouterr()[0].splitlines()) == 2_000
    path.write_bytes(path.read_bytes()[:5_000])
    assert main(["events", str(path)]) == 1
    out, err = capsysbinary.readouterr()
    assert b"truncated file" in err and out.count(b"\n") > 0


def test_status_reports_pending_files_and_lag(tmp_path, capsys):
    """Files of 2026-11-30 09:00 and nothing delivered: far past the loss window (exit 2)."""
    staging = _tree(tmp_path)
    assert main(["status", "--staging", str(staging), "--ledger", str(tmp_path / "ledger"), "--json"]) == 2
    report = orjson.loads(capsys.readouterr().out)
    assert report["pending_files"] == 2 and report["delivered_files"] == 0 and report["unmatched_keys"] == 1
    assert report["oldest_pending_hour"].startswith("2026-11-30T09") and report["lag_hours"] > 48
    assert report["ledger_found"] is False and report["verdict"].startswith("PAST THE LOSS WINDOW")
    assert main(["status", "--staging", str(staging), "--ledger", str(tmp_path / "ledger")]) == 2
    text = capsys.readouterr().out
    assert "users.messages.email.Click" in text and "lag:" in text and "h PAST Braze's 48 h loss window" in text


def test_python_dash_m_stages_a_sample(tmp_path):
    command = [sys.executable, "-m", "airflow_braze_td.cli", "stage-sample", str(tmp_path / "s"), "--events", "500",
               "--hours", "1", "--seed", "3", "--end", "2026-11-30T10:00:00Z"]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = orjson.loads(first.stdout)
    assert summary["unique_ids"] == 500 and summary["files"] > 1
    assert summary["first_hour"].startswith("2026-11-30T09")


@pytest.mark.parametrize(("command", "defaults"), [
    ("stage-sample", ["(default: 100000)", "(default: 6)", "(default: 0)", "(default: null)"]),
    ("emulator", ["(default: 127.0.0.1)", "(default: 8089)", "(default: :memory:)", "(default: 0.0)"]),
    ("status", ["(default: 48.0)", "(default: 12.0)", "(default: 6.0)"]),
    ("requeue", ["(default: postback)", "(default: treasure_data_default)"]),
])
def test_help_of_each_command_shows_its_defaults_and_exit_codes(command, defaults):
    result = braze_td(command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert all(default in text for default in defaults), text
    assert "exit codes: 0 " in text and " 3 an error" in text


def test_status_help_documents_the_exit_codes_a_cron_job_uses():
    text = " ".join(braze_td("status", "--help").stdout.split())
    assert ("exit codes: 0 nothing past the warn line 1 past the warn line 2 past the fail line or Braze's loss "
            "window 3 an error") in text


def test_the_readme_lists_every_flag_and_the_exit_codes():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## The `braze-td` command", 1)[1].split("\n## ", 1)[0]
    commands = next(action for action in build_parser()._actions if action.dest == "command").choices
    for name, parser in commands.items():
        assert f"braze-td {name}" in section
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--"):
                    assert flag in section, f"{name} {flag} is not in the README's braze-td section"
    assert "| exit code |" in section
