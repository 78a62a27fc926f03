"""Chaos benchmark: deliver staged Currents exports through the operator while TD misbehaves and the
delivering process is SIGKILLed, then check every eligible event landed, and how often.

Per mode: the emulator runs as its own process with random faults on about 20 % of requests (429 with and
without Retry-After, 500, 502, 503, connection reset, a slow answer past the client's read timeout, and
"store, then 500"). Each task try is a fresh process running `BrazeCurrentsToTreasureDataOperator.execute`
with a stand-in context; the harness kills tries at random points of the delivery and starts the next one
as Airflow would retry: a new process, the same ledger, the same logical date. A try that gives up with an
exception is retried the same way. At the end the event ids stored in TD are compared with the eligible
staged events (distinct ids with an external_user_id, read with the project's reader).

    .venv/bin/python benchmarks/chaos.py --events 1000000 --kills 10 --json benchmarks/results/chaos.json

The staging tree is written once (one queue hour by default) and read by every mode (import, postback,
ingest), side by side. The tries' TD read timeout (0.5 s) and first backoff (0.05 s) are short so the "slow" fault outlasts
the timeout and a million events fit in about ten minutes; kills are placed by what a try has read
(`/proc/<pid>/io`, Linux).

Exits non-zero when an event is lost, when import mode stored a duplicate, when postback or ingest
duplicates pass their bound (per killed or failed try, the requests it had in flight, whose batches may have
landed unrecorded; and one batch per ambiguous answer: "store, then 500" or a slow answer the client gave up
on, since neither endpoint has an idempotency key), or when a try hangs or fails permanently.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pendulum
import requests

ROOT = Path(__file__).resolve().parents[1]
MODES = ("import", "postback", "ingest")
CHAOS_KINDS = ("429", "429_retry_after", "500", "502", "503", "reset", "slow", "store_then_500")
AMBIGUOUS_KINDS = ("slow", "store_then_500")  # stored, but the client saw a failure and sends again
DATABASE = "braze"
KEY = "1/" + "0123456789abcdef" * 2 + "01234567"  # the emulator's master key for these runs
TABLES = {"import": "events_{event_type}", "postback": "currents", "ingest": "events_{event_type}"}
DAG_ID, TASK_ID = "braze_currents_chaos", "deliver"
EXIT_PERMANENT = 3  # AirflowFailException: Airflow would not retry, neither does the harness
KILL, OUTAGE = "kill", "outage"
RETRY_ATTEMPTS = 7  # the tries' attempts per request (RetryPolicy's default); an outage fails them all
POLL_SECONDS = 0.05
CONNECT_TIMEOUT = 5.0
CLIENT_TIMEOUT = re.compile(r"(?:failed| s): timed out \(ReadTimeout\)")  # retry and give-up log lines


# --- the task try (a separate process) -----------------------------------------------------------


class StandInTI:
    """The few TaskInstance attributes the operator reads, and an xcom_push that keeps the value."""

    def __init__(self, try_number: int, logical_date: pendulum.DateTime) -> None:
        self.dag_id = DAG_ID
        self.task_id = TASK_ID
        self.run_id = f"scheduled__{logical_date.isoformat()}"
        self.map_index = -1
        self.try_number = try_number
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcom[key] = value


def run_try(args: argparse.Namespace) -> int:
    """One task try: build the operator, signal the harness, execute; exit codes as Airflow sees them."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_braze_td.operators.currents_to_treasure_data import BrazeCurrentsToTreasureDataOperator

    operator = BrazeCurrentsToTreasureDataOperator(
        task_id=TASK_ID,
        staging_url=args.staging,
        ledger_url=args.ledger,
        mode=args.mode,
        database=DATABASE,
        table=TABLES[args.mode],
        create_table=True,
        retries=args.max_tries - 1,
    )
    end = pendulum.parse(args.end)
    logical_date = end.subtract(hours=1)  # an hourly run's logical date: its data interval start
    ti = StandInTI(args.try_number, logical_date)
    context = {
        "ti": ti,
        "task_instance": ti,
        "run_id": ti.run_id,
        "logical_date": logical_date,
        "data_interval_start": logical_date,
        "data_interval_end": end,
    }
    Path(args.started).write_text(str(os.getpid()))
    try:
        result = operator.execute(context)
    except AirflowFailException as error:
        print(f"permanent failure: {error}", file=sys.stderr)
        return EXIT_PERMANENT
    print(json.dumps(result))
    return 0


# --- the harness ---------------------------------------------------------------------------------


@dataclass
class ModeResult:
    """One mode's figures, as printed and written to the JSON report."""

    mode: str
    events: int
    staged_events: int
    files: int
    faults: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    outages: int = 0
    tries: int = 0
    failed_tries: int = 0
    lost: int = 0
    duplicated: int = 0
    duplicated_bound: int = 0
    duplicate_batches: int = 0
    duplicate_batches_bound: int = 0
    partial_duplicates: int = 0
    unexpected: int = 0
    client_timeouts: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_staging(staging: Path) -> tuple[set[str], dict[str, int]]:
    """The truth: distinct ids of staged events with an external_user_id, read with the project's reader;
    and each staged file's size by identity, to place the kills."""
    from airflow_braze_td.currents.decode import BadEvent
    from airflow_braze_td.currents.staging import StagingArea

    area = StagingArea.from_url(str(staging))
    found: set[str] = set()
    sizes: dict[str, int] = {}
    for staged in area.list().files:
        sizes[staged.identity] = staged.size
        for event in area.iter_events(staged):
            if not isinstance(event, BadEvent) and event["user"].get("external_user_id"):
                found.add(event["id"])
    return found, sizes


def bytes_read(pid: int) -> int:
    """Bytes the process has read so far, staged files above all: a fine-grained measure of its progress."""
    try:
        with open(f"/proc/{pid}/io") as stats:
            return next(int(line.split()[1]) for line in stats if line.startswith("rchar:"))
    except (FileNotFoundError, ProcessLookupError):
        return 0


def last_write(ledger: Path) -> int:
    """When the ledger last changed at its top two levels (every record is renamed into place there)."""
    try:
        folders = [ledger, *(entry for entry in ledger.iterdir() if entry.is_dir())]
        return max(folder.stat().st_mtime_ns for folder in folders)
    except FileNotFoundError:
        return 0


class Tries:
    """Runs task tries one after the other until one completes; each try meets at most one planned event.

    The plan holds `--kills` SIGKILLs and `--outages` outages (as many 503s in a row as the requests in
    flight may be tried, so the try gives up with an exception) at random points of the staged bytes, spread along the
    delivery. A try's progress is what it has read (`bytes_read`), which grows with every event, so an
    event lands at a random moment: mid-batch, mid-ledger-write, and always before the try could finish.
    """

    def __init__(self, args: argparse.Namespace, mode: str, workdir: Path, env: dict[str, str],
                 sizes: dict[str, int], emulator_url: str, rng: random.Random) -> None:
        from airflow_braze_td.delivery.ledger import Ledger

        self.args = args
        self.mode = mode
        self.workdir = workdir
        self.env = env
        self.sizes = sizes
        self.emulator_url = emulator_url
        self.rng = rng
        self.ledger = Ledger.from_url(str(workdir / "ledger"))
        total = sum(sizes.values())
        planned = [(rng.uniform(0.02, 0.9) * total, KILL) for _ in range(args.kills)]
        planned += [(rng.uniform(0.02, 0.9) * total, OUTAGE) for _ in range(args.outages)]
        self.plan = sorted(planned)
        self.kills = 0
        self.outages = 0
        self.tries = 0
        self.failed = 0

    @property
    def max_tries(self) -> int:
        return self.args.kills + self.args.max_failed_tries + 1

    @property
    def log_path(self) -> Path:
        return self.workdir / "tries.log"

    def run(self, deadline: float) -> list[str]:
        """Tries until one completes; the problems that stopped it otherwise (hang, permanent failure...)."""
        while self.tries < self.max_tries:
            self.tries += 1
            outcome = self._one_try(deadline)
            if outcome == 0:
                return []
            if outcome == KILL:
                continue
            if outcome == EXIT_PERMANENT:
                return [f"try {self.tries} failed permanently (see {self.log_path})"]
            if isinstance(outcome, str):
                return [f"try {self.tries}: {outcome} (see {self.log_path})"]
            self.failed += 1
        return [f"no try completed in {self.max_tries} tries"]

    def _one_try(self, deadline: float) -> int | str:
        started = self.workdir / f"try-{self.tries}.started"
        command = [
            sys.executable, str(Path(__file__).resolve()), "try",
            "--mode", self.mode, "--staging", str(self.workdir.parent / "staging"),
            "--ledger", str(self.workdir / "ledger"), "--started", str(started),
            "--try-number", str(self.tries), "--max-tries", str(self.max_tries),
            "--read-timeout", str(self.args.read_timeout), "--backoff", str(self.args.backoff),
            "--end", self.args.end.isoformat(),
        ]
        with self.log_path.open("ab") as log:
            log.write(f"\n===== try {self.tries} =====\n".encode())
            log.flush()
            process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            return self._watch(process, started, self._bytes_before_event(), deadline)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()

    def _bytes_before_event(self) -> float | None:
        """How much this try reads before the next planned event: up to the event's point, or a small random
        share of what is left when progress already passed it (a finished bundle covers many files)."""
        if self.kills + self.outages >= len(self.plan):
            return None
        done = sum(self.sizes.get(identity, 0) for identity in self.ledger.states())
        point = self.plan[self.kills + self.outages][0]
        return point - done if point > done else self.rng.uniform(0.02, 0.1) * (sum(self.sizes.values()) - done)

    def _watch(self, process: subprocess.Popen, started: Path, read_before_event: float | None,
               deadline: float) -> int | str:
        """Wait for the try to end, carrying out the next planned event; a kill returns KILL, a hang a reason."""
        planned = self.plan[self.kills + self.outages] if read_before_event is not None else None
        baseline: int | None = None
        written = last_write(self.workdir / "ledger")
        last_change = time.monotonic()
        while (code := process.poll()) is None:
            now = time.monotonic()
            if now > deadline:
                return f"still running at the {self.args.deadline:g} s deadline"
            if (latest := last_write(self.workdir / "ledger")) != written:
                written, last_change = latest, now
            elif now - last_change > self.args.stall_seconds:
                return f"hang: the ledger did not change for {self.args.stall_seconds:g} s"
            if planned is not None and baseline is None and started.exists():
                baseline = bytes_read(process.pid)  # from here on the try reads the ledger and staging
            if planned is not None and baseline is not None and bytes_read(process.pid) - baseline >= read_before_event:
                if planned[1] == KILL:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
                    self.kills += 1
                    return KILL
                outage = [{"status": 503, "kind": OUTAGE}] * (RETRY_ATTEMPTS * _requests_in_flight(self.mode))
                requests.post(f"{self.emulator_url}/_emulator/faults", json=outage, timeout=30).raise_for_status()
                self.outages += 1
                planned = None
            time.sleep(POLL_SECONDS)
        return code


def _requests_in_flight(mode: str) -> int:
    """An outage fails every attempt of each request the try has in flight, so it holds that many 503s each."""
    from airflow_braze_td.treasure_data.sinks import SINK_CLASSES

    return SINK_CLASSES[mode].requests_in_flight


def _batch_events(mode: str) -> int:
    """The most events one re-sent batch can duplicate."""
    from airflow_braze_td.treasure_data.sinks import SINK_CLASSES

    return SINK_CLASSES[mode].default_limits.max_events


def landed_ids(url: str, mode: str) -> tuple[Counter, Counter]:
    """Event ids stored in TD with multiplicity, and (postback) each stored row's ids with multiplicity.

    Read over the emulator's admin endpoint, which faults never touch."""
    rows = requests.get(f"{url}/_emulator/event_ids/{DATABASE}", timeout=600).json()
    ids = Counter(event_id for row in rows for event_id in row)
    batches = Counter(tuple(row) for row in rows) if mode == "postback" else Counter()
    return ids, batches


def quarantined_events(ledger: Path) -> int:
    """Events the ledger holds in quarantine: delivered to nobody until `requeue`."""
    from airflow_braze_td.delivery.ledger import Ledger

    return sum(len(record.get("events", ())) for _, record in Ledger.from_url(str(ledger)).quarantined())


def run_mode(args: argparse.Namespace, mode: str, workdir: Path, truth: set[str], sizes: dict[str, int],
             staged_events: int) -> ModeResult:
    """One mode end to end: its own emulator (with chaos) and ledger, the tries, then the count in TD."""
    from airflow_braze_td.demo import airflow_env
    from airflow_braze_td.emulator import start_emulator_process

    modedir = workdir / mode
    modedir.mkdir(parents=True)
    result = ModeResult(mode=mode, events=len(truth), staged_events=staged_events, files=len(sizes))
    rng = random.Random(f"{args.seed}:{mode}")
    started = time.monotonic()
    with start_emulator_process(api_keys=[KEY]) as emulator:
        env = airflow_env(modedir, ROOT / "dags", emulator.url, KEY)
        # The connection's `timeout` and `retry` extras: a read timeout the "slow" fault outlasts, and short
        # backoffs so a million events through 20 % faults fit in minutes (Retry-After is honoured as sent).
        connection = json.loads(env["AIRFLOW_CONN_TREASURE_DATA_DEFAULT"])
        connection["extra"].update(
            timeout=[CONNECT_TIMEOUT, args.read_timeout],
            retry={"max_attempts": RETRY_ATTEMPTS, "initial_wait": args.backoff, "max_wait": max(args.backoff, 2.0)},
        )
        env["AIRFLOW_CONN_TREASURE_DATA_DEFAULT"] = json.dumps(connection)
        chaos = {"rate": args.fault_rate, "kinds": list(CHAOS_KINDS), "seed": rng.randrange(2**32),
                 "slow_seconds": args.read_timeout + 0.5, "retry_after": "1"}
        requests.post(f"{emulator.url}/_emulator/random_faults", json=chaos, timeout=30).raise_for_status()
        tries = Tries(args, mode, modedir, env, sizes, emulator.url, rng)
        result.problems += tries.run(started + args.deadline)
        result.seconds = round(time.monotonic() - started, 1)
        print(f"{mode}: tries ended after {result.seconds:.1f} s: {tries.kills} kill(s), {tries.tries} tries",
              flush=True)
        result.kills, result.outages = tries.kills, tries.outages
        result.tries, result.failed_tries = tries.tries, tries.failed
        result.faults = requests.get(f"{emulator.url}/_emulator/fault_counts", timeout=30).json()
        requests.post(f"{emulator.url}/_emulator/random_faults", json={"rate": 0}, timeout=30).raise_for_status()
        landed, batches = landed_ids(emulator.url, mode)
    result.quarantined = quarantined_events(modedir / "ledger")
    result.client_timeouts = len(CLIENT_TIMEOUT.findall((modedir / "tries.log").read_text(errors="replace")))
    result.lost = len(truth - landed.keys())
    result.unexpected = len(landed.keys() - truth)
    result.duplicated = sum(count - 1 for count in landed.values())
    if mode != "import":
        result.duplicate_batches_bound = (result.kills + result.failed_tries) * _requests_in_flight(mode) + sum(
            result.faults.get(kind, 0) for kind in AMBIGUOUS_KINDS)
        result.duplicated_bound = result.duplicate_batches_bound * _batch_events(mode)
    if mode == "postback":
        result.duplicate_batches = sum(count - 1 for count in batches.values())
        # A re-sent batch is stored again whole; any other duplicate means a batch was rebuilt differently.
        result.partial_duplicates = result.duplicated - sum((count - 1) * len(ids) for ids, count in batches.items())
    check(result, args)
    return result


def check(result: ModeResult, args: argparse.Namespace) -> None:
    """Add a problem for every broken guarantee."""
    if result.lost:
        result.problems.append(f"{result.lost} eligible event(s) never reached TD")
    if result.unexpected:
        result.problems.append(f"{result.unexpected} stored event id(s) are not eligible staged events")
    if result.duplicated > result.duplicated_bound or result.duplicate_batches > result.duplicate_batches_bound:
        result.problems.append(
            f"{result.duplicated} duplicated event(s) in {result.duplicate_batches} batch(es), above the bound of "
            f"{result.duplicated_bound} in {result.duplicate_batches_bound}"
        )
    if result.partial_duplicates:
        result.problems.append(f"{result.partial_duplicates} duplicated event(s) outside whole re-sent batches")
    if result.kills < args.kills or result.outages < args.outages:
        result.problems.append(
            f"only {result.kills} of {args.kills} kill(s) and {result.outages} of {args.outages} outage(s) happened "
            "before a try completed"
        )


def print_table(results: list[ModeResult]) -> None:
    """One column per mode; the problems below it."""
    rows = [
        ("staged events", lambda r: f"{r.staged_events:,}"),
        ("eligible events", lambda r: f"{r.events:,}"),
        ("staged files", lambda r: f"{r.files:,}"),
        ("faults injected (by kind below)", lambda r: f"{sum(r.faults.values()):,}"),
        *[(f"  {kind}", lambda r, kind=kind: f"{r.faults.get(kind, 0):,}") for kind in (*CHAOS_KINDS, OUTAGE)],
        ("SIGKILLs", lambda r: f"{r.kills}"),
        ("outages", lambda r: f"{r.outages}"),
        ("tries (failed with an exception)", lambda r: f"{r.tries} ({r.failed_tries})"),
        ("lost", lambda r: f"{r.lost:,}"),
        ("duplicated (bound)", lambda r: f"{r.duplicated:,} ({r.duplicated_bound:,})"),
        ("duplicate batches (bound)", lambda r: f"{r.duplicate_batches:,} ({r.duplicate_batches_bound:,})"),
        ("client read timeouts", lambda r: f"{r.client_timeouts:,}"),
        ("quarantined", lambda r: f"{r.quarantined:,}"),
        ("wall time (s)", lambda r: f"{r.seconds:,.1f}"),
        ("result", lambda r: "ok" if r.ok else "FAILED"),
    ]
    print(f"{'':<34}" + "".join(f"{r.mode:>20}" for r in results))
    for label, cell in rows:
        print(f"{label:<34}" + "".join(f"{cell(r):>20}" for r in results))
    for r in results:
        for problem in r.problems:
            print(f"{r.mode}: {problem}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if argv and argv[0] == "try":
        parser.add_argument("command")
        parser.add_argument("--mode", required=True, choices=MODES)
        parser.add_argument("--staging", required=True)
        parser.add_argument("--ledger", required=True)
        parser.add_argument("--started", required=True)
        parser.add_argument("--try-number", type=int, required=True)
        parser.add_argument("--max-tries", type=int, required=True)
        parser.add_argument("--read-timeout", type=float, required=True)
        parser.add_argument("--backoff", type=float, required=True)
        parser.add_argument("--end", required=True, help="the data interval end (ISO)")
        return parser.parse_args(argv)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=1, help="queue hours the staged events spread over")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of the delivering process per mode")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: import, postback, ingest")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the per-mode report here")
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--read-timeout", type=float, default=0.5, help="the tries' TD read timeout (s)")
    parser.add_argument("--backoff", type=float, default=0.05, help="first retry wait of the tries (s)")
    parser.add_argument("--outages", type=int, default=1, help="outages per mode that make a try give up")
    parser.add_argument("--max-failed-tries", type=int, default=10, help="tries that may end in an exception")
    parser.add_argument("--stall-seconds", type=float, default=180.0, help="ledger unchanged this long: a hang")
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds per mode before giving up")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary folder)")
    args = parser.parse_args(argv)
    args.command = "run"
    args.end = pendulum.now("UTC").start_of("hour")  # staged hours end here, and so does the run's data interval
    args.mode_list = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(args.mode_list) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}; choose from {', '.join(MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "try":
        return run_try(args)
    from airflow_braze_td.currents.sample import stage_sample

    if args.workdir and args.workdir.exists() and any(args.workdir.iterdir()):
        raise SystemExit(f"--workdir {args.workdir} is not empty; give a new or empty folder")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="braze-td-chaos-"))
    started = time.monotonic()
    # One staging tree serves every mode: tries only read it, and each mode has its own ledger and TD.
    staged = stage_sample(str(workdir / "staging"), events=args.events, hours=args.hours, seed=args.seed,
                          end=args.end)
    truth, sizes = read_staging(workdir / "staging")
    print(f"staged {staged['events']:,} events in {staged['files']:,} files ({len(truth):,} eligible) "
          f"in {time.monotonic() - started:.1f} s under {workdir}; faults on {args.fault_rate:.0%} of requests, "
          f"read timeout {args.read_timeout:g} s, first backoff {args.backoff:g} s, Retry-After 1 s", flush=True)
    # The modes run side by side: under chaos a try mostly waits (timeouts, Retry-After, backoff).
    with ThreadPoolExecutor(len(args.mode_list)) as pool:
        results = list(pool.map(lambda mode: run_mode(args, mode, workdir, truth, sizes, staged["events"]),
                                args.mode_list))
    print(f"total wall time {time.monotonic() - started:.1f} s")
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {r.mode: {**asdict(r), "ok": r.ok} for r in results}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    failed = [r for r in results if not r.ok]
    if not failed and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
