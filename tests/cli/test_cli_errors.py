"""Every everyday mistake with `braze-td` is one line on stderr naming what to fix, no traceback, and an exit
code a script can use (issue 23's table, one test per row). The real console script runs in a subprocess."""

from __future__ import annotations

import json
import socket
import subprocess

import orjson
import pendulum
import pytest

from airflow_braze_td.emulator import Fault
from tests.cli.conftest import BRAZE_TD, World, braze_td, one_line_error
from tests.conftest import open_record, write_avro
from tests.reliability.conftest import KEY, http_event

INSTALL_S3 = "pip install 'airflow-provider-braze-td[s3]'"


@pytest.mark.parametrize("command", [["events", "s3://acme-currents/staging"],
                                     ["status", "--staging", "s3://acme-currents/staging", "--ledger", "ledger"]])
def test_a_storage_url_without_its_extra_names_the_pip_install_that_fixes_it(tmp_path, command) -> None:
    """s3fs is made unimportable for the command alone (a module on PYTHONPATH that raises ImportError), so
    the test holds whether or not the [s3] extra is installed here."""
    (tmp_path / "s3fs.py").write_text("raise ImportError('No module named s3fs (simulated)')\n")
    line = one_line_error(braze_td(*command, env={"PYTHONPATH": str(tmp_path)}), 3)
    assert line.startswith("braze-td: ") and "s3://acme-currents/staging" in line and line.endswith(INSTALL_S3)


@pytest.mark.parametrize("command", [
    ["events", "ftp2://x"],
    ["status", "--staging", "ftp2://x", "--ledger", "ledger"],
    ["stage-sample", "ftp2://x"],
    ["requeue", "--ledger", "ftp2://x"],
])
def test_an_unknown_scheme_is_one_line_in_every_command(command) -> None:
    line = one_line_error(braze_td(*command), 3)
    assert "ftp2://x: unknown storage scheme 'ftp2://'; use a local path or a URL such as file://" in line


def test_debug_shows_the_traceback_instead() -> None:
    result = braze_td("--debug", "events", "ftp2://x")
    assert result.returncode != 0 and "Traceback" in result.stderr and "Protocol not known: ftp2" in result.stderr


def test_the_emulator_on_a_busy_port_says_so() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = one_line_error(braze_td("emulator", "--port", port), 3)
    assert line == (f"braze-td: port {port} on 127.0.0.1 is in use (an emulator still running?): stop what holds "
                    "it, or give another --port (0 picks a free one)")


def test_the_emulator_with_an_unwritable_store_says_so(tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    store = tmp_path / "a-file" / "td.sqlite"
    line = one_line_error(braze_td("emulator", "--port", 0, "--store", store), 3)
    assert line.startswith(f"braze-td: cannot open the emulator's --store {store} (unable to open database file)")


@pytest.mark.parametrize(("option", "message"), [
    (["--hours", "-1"], "argument --hours: must be at least 1, not -1"),
    (["--end", "notadate"], "argument --end: 'notadate' is not an ISO date and time, e.g. 2026-11-30T10:00:00Z"),
    (["--events", "many"], "argument --events: 'many' is not a whole number"),
    (["--codec", "lzma"], "argument --codec: invalid choice: 'lzma'"),
])
def test_bad_stage_sample_arguments_name_the_argument(tmp_path, option, message) -> None:
    line = one_line_error(braze_td("stage-sample", tmp_path / "sample", *option), 3)
    assert line.startswith(f"braze-td stage-sample: {message}") and line.endswith("(see braze-td stage-sample --help)")
    assert not (tmp_path / "sample").exists()


@pytest.mark.parametrize(("option", "message"), [
    (["--warn-after-hours", "-1"], "braze-td status: argument --warn-after-hours: must be at least 0, not -1"),
    (["--loss-window-hours", "10"], "braze-td: --fail-margin-hours (12) must be below --loss-window-hours (10)"),
    (["--loss-window-hours", "inf"], "braze-td status: argument --loss-window-hours: 'inf' is not a number"),
])
def test_bad_status_arguments_name_the_argument(world: World, option, message) -> None:
    result = braze_td("status", "--staging", world.staging_dir, "--ledger", world.ledger_dir, *option)
    assert one_line_error(result, 3).startswith(message) and result.stdout == ""


def test_events_into_a_pipe_closed_early_stops_with_one_line(tmp_path) -> None:
    """`braze-td events ... | head -1`: the reader goes away after one line; megabytes were still to come."""
    assert braze_td("stage-sample", tmp_path / "s", "--events", 5_000, "--hours", 1).returncode == 0
    with subprocess.Popen([str(BRAZE_TD), "events", str(tmp_path / "s")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        first = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert orjson.loads(first)["id"]
    one_line_error(subprocess.CompletedProcess([], code, "", stderr), 3)
    assert "the output was closed before everything was written" in stderr


@pytest.mark.parametrize("name", ["typo", "staging"])
def test_requeue_with_no_ledger_there_says_so(world: World, name: str) -> None:
    """A path where nothing is, and a folder that holds something else (here the staging prefix)."""
    line = one_line_error(braze_td("requeue", "--ledger", world.root / name, "--discard"), 3)
    assert line == f"braze-td: no ledger at {world.root / name}: nothing delivered yet, or a wrong path"


def test_status_with_no_ledger_there_says_so(world: World) -> None:
    result = braze_td("status", "--staging", world.staging_dir, "--ledger", world.root / "typo")
    line = one_line_error(result, 0)
    assert line == f"braze-td: no ledger at {world.root / 'typo'}: nothing delivered yet, or a wrong path"
    assert "files: 2 staged, 0 delivered, 2 pending" in result.stdout
    assert orjson.loads(braze_td("status", "--staging", world.staging_dir, "--ledger", world.root / "typo",
                                 "--json").stdout)["ledger_found"] is False


def test_requeue_with_nothing_quarantined_needs_no_connection(world: World) -> None:
    world.deliver()
    result = braze_td("requeue", "--ledger", world.ledger_dir)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"nothing is quarantined in the ledger at {world.ledger_dir}: nothing to requeue\n"


def test_requeue_of_an_unreadable_file_says_to_replace_it_or_discard_it(world: World) -> None:
    whole = write_avro(world.root / "whole.avro", [open_record(n) for n in range(200, 500)]).read_bytes()
    key = world.put(whole[: len(whole) // 2])
    world.deliver()
    result = braze_td("requeue", "--ledger", world.ledger_dir)
    line = one_line_error(result, 1)
    assert line.startswith("braze-td: 1 quarantine record(s) kept")
    assert f"kept: unreadable file {key}: truncated file (after " in result.stdout
    assert "replace each unreadable file in the staging prefix" in result.stdout and "--discard" in result.stdout
    assert orjson.loads(braze_td("requeue", "--ledger", world.ledger_dir, "--json").stdout)["kept"] == [
        {"key": key, "events": 0, "reasons": {f"truncated file (after {world.file_quarantine(key)['record_index']} "
                                              "records read)": 1}}]
    discarded = braze_td("requeue", "--ledger", world.ledger_dir, "--discard")
    assert (discarded.returncode, discarded.stderr) == (0, "")
    assert "discarded 1 quarantine record(s) on purpose" in discarded.stdout
    assert list(world.ledger.quarantined()) == []


def test_requeue_reports_in_words_what_was_sent(world: World) -> None:
    world.put_events([http_event("refused-once")], offset=0)
    world.emulator.push_faults(Fault.http(400))
    world.deliver()
    world.emulator.clear_faults()
    connection = {"conn_type": "treasure_data", "host": world.emulator.url, "password": KEY}
    result = braze_td("requeue", "--ledger", world.ledger_dir, "--mode", "import", "--database", "braze",
                      "--table", "events", "--create-table",
                      env={"AIRFLOW_CONN_TREASURE_DATA_DEFAULT": json.dumps(connection)})
    assert result.returncode == 0, result.stderr
    assert "sent again: 1 event(s) accepted by Treasure Data" in result.stdout
    assert "the quarantine is empty" in result.stdout and "Traceback" not in result.stderr


def _old_pending_file(world: World, hours_ago: int) -> None:
    """The world delivered, then one more file staged `hours_ago` hours back: the lag is that many hours and the
    minutes past the hour (printed as `hours_ago`.x, or `hours_ago + 1`.0 in an hour's last three minutes)."""
    world.deliver()
    old = pendulum.now("UTC").start_of("hour").subtract(hours=hours_ago)
    world.put(write_avro(world.root / "old.avro", [open_record(7)]).read_bytes(), hour=old)


def lag_after(line: str, start: str) -> float:
    """The lag in hours that `line` gives right after `start`, which it must begin with."""
    assert line.startswith(start), line
    return float(line.removeprefix(start).split(" ")[0])


@pytest.mark.parametrize(("options", "code", "start"), [
    ([], 2, "braze-td: PAST THE LOSS WINDOW: lag "),
    (["--loss-window-hours", 200, "--fail-margin-hours", 150], 2, "braze-td: PAST THE FAIL LINE: lag "),
    (["--loss-window-hours", 200, "--fail-margin-hours", 100], 1, "braze-td: past the warn line: lag "),
])
def test_status_past_a_line_exits_with_its_code_and_says_so(world: World, options, code, start) -> None:
    _old_pending_file(world, 60)
    result = braze_td("status", "--staging", world.staging_dir, "--ledger", world.ledger_dir, *options)
    assert 60 <= lag_after(one_line_error(result, code), start) <= 61
    assert "files: 3 staged, 2 delivered, 1 pending" in result.stdout


def test_status_below_the_warn_line_exits_0_with_nothing_on_stderr(world: World) -> None:
    _old_pending_file(world, 60)
    result = braze_td("status", "--staging", world.staging_dir, "--ledger", world.ledger_dir,
                      "--loss-window-hours", 200, "--fail-margin-hours", 100, "--warn-after-hours", 80)
    assert (result.returncode, result.stderr) == (0, "")
    assert 60 <= lag_after(result.stdout.splitlines()[-1], "ok: 1 file(s) waiting, lag ") <= 61
    assert "h left before Braze's 200 h loss window" in result.stdout


def test_status_past_the_loss_window_in_json_says_so_too(world: World) -> None:
    _old_pending_file(world, 60)
    result = braze_td("status", "--staging", world.staging_dir, "--ledger", world.ledger_dir, "--json")
    assert one_line_error(result, 2).startswith("braze-td: PAST THE LOSS WINDOW")
    report = orjson.loads(result.stdout)
    assert report["exit_code"] == 2 and report["hours_left"] < 0 and report["pending_files"] == 1


def test_a_text_file_named_avro_is_said_not_to_be_avro(tmp_path) -> None:
    (tmp_path / "export.avro").write_text("id,time\n1,1764500000\n")
    line = one_line_error(braze_td("events", tmp_path / "export.avro"), 1)
    assert line == (f"braze-td: {tmp_path / 'export.avro'}: not an Avro file: it starts with b'id,t', where Avro "
                    "files start with b'Obj\\x01' (after 0 records read)")


def test_stage_sample_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "earlier.txt").write_text("something")
    line = one_line_error(braze_td("stage-sample", tmp_path / "s", "--events", 100, "--hours", 1), 3)
    assert line.startswith(f"braze-td: DEST {tmp_path / 's'} is not empty") and "--force" in line
    assert [path.name for path in (tmp_path / "s").iterdir()] == ["earlier.txt"]
    forced = braze_td("stage-sample", tmp_path / "s", "--events", 100, "--hours", 1, "--force")
    assert forced.returncode == 0 and orjson.loads(forced.stdout)["unique_ids"] == 100
