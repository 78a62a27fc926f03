"""Throughput and memory of the delivery path against the unavoidable work, a hand-written baseline and 2 workers.

One run stages a sample export (`stage_sample`: Avro, every catalog event type) and measures, on that data:

- floor: fastavro decoding every file plus the serialising the sink cannot avoid (orjson in `{"events": [...]}`
  envelopes of 100 for postback; msgpack rows gzipped per 10,000 with stdlib gzip at level 6 for import), on one
  core;
- project: `Delivery` (listing, ledger, filters, dedupe, batching, real sink) into the emulator running as a
  separate process, on one core (the emulator gets the other), for postback and import, with how many files
  the columnar reader read and how many went to fastavro (and why);
- ceiling: the least work any delivery of the same events must do (`child_ceiling`: the project's readers and
  the one normalisation, the filter, dedupe by a set, the sink's encoding, the stdlib `http.client` one request
  at a time; no ledger, claims, retries or threads), by CPU time: the most the project's ratio to the floor, and
  to the baseline, can be on this machine;
- with `--latency-ms`: the project path again against an emulator holding every data request that long, as TD
  over the internet does, and its ratio to the rate against an emulator answering at once;
- baseline: fastavro, stdlib `json` and `HttpHook.run` per batch of 100 events (postback envelope), one core;
- scale-out: the project path split over 2 pinned worker processes by `plan_event_type_groups`, against
  the minimal receiver (`receiver.py`: the emulator's checks and storage would take the CPU the
  workers need) compared with 1 worker against the same receiver (`--scale-attempts` interleaved runs
  each, best of each); and the floor split the same way over 2 pinned processes, which is the most 2 cores
  give on this machine;
- with `--attempts K`: the floor, the project and the baseline run K times in turn, and each keeps its best run,
  so that one slow spell of a noisy machine does not decide a ratio (`make bench` takes 2);
- memory: peak RSS of the project path in a fresh process at N events (the project run above, in the mode
  that peaks higher) and at M = N/4: a tree of hard links to the N tree's first quarter of hours, so both
  have the same events per hour and the N tree 4x the hours (how a bigger backlog looks).

    .venv/bin/python benchmarks/throughput.py [--events N] [--json PATH] [--quick] [--attempts K] [--scale-attempts K]
                                              [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pendulum
from fsspec.implementations.local import LocalFileSystem

END = pendulum.datetime(2026, 11, 30, 12, tz="UTC")
KEY = "1/" + "ab" * 20
TABLE = "currents_events"  # the example DAG's default table
MODES = ("postback", "import")
POSTBACK_BATCH = 100
IMPORT_BATCH = 10_000
# The floor compresses as the import sink did when the floor was defined: stdlib gzip at level 6.
FLOOR_GZIP_LEVEL = 6
MEASURE_CORE, SERVER_CORE = 0, 1
CAPACITY_MIN_REQUESTS = 10


# -- child processes: each measurement runs in a fresh interpreter, so peak RSS is its own --------------


def _pin(core: int) -> None:
    os.sched_setaffinity(0, {core})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _avro_paths(staging: str, event_types: list[str] | None = None) -> list[str]:
    from airflow_braze_td.currents.staging import StagingArea

    area = StagingArea.from_url(staging)
    chosen = set(event_types or ())
    return [f"{area.root}/{staged.key}" for staged in area.list().files if not chosen or staged.event_type in chosen]


def _cpu_seconds() -> float:
    """CPU time of this process, every thread: on a busy machine a steadier measure of work than the clock."""
    used = os.times()
    return used.user + used.system


def _wait_for_go() -> None:
    """Tell the parent this child is ready, and start when it says so (both workers of a pair at once)."""
    print("ready", flush=True)
    sys.stdin.readline()


def child_floor(staging: str, mode: str, core: int = MEASURE_CORE, event_types: list[str] | None = None,
                wait_for_go: bool = False) -> dict:
    """Decode with fastavro and serialise as the sink must; nothing else."""
    import gzip

    import fastavro
    import msgpack
    import orjson

    paths = _avro_paths(staging, event_types)
    _pin(core)
    if wait_for_go:
        _wait_for_go()
    events = 0
    wall_started = time.time()
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    items: list[bytes] = []
    if mode == "postback":
        dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
        for path in paths:
            with open(path, "rb") as stream:
                for record in fastavro.reader(stream):
                    items.append(dumps(record, option=sort_keys))
                    if len(items) == POSTBACK_BATCH:
                        body = b'{"events":[' + b",".join(items) + b"]}"
                        events += len(items)
                        items = []
        body = b'{"events":[' + b",".join(items) + b"]}"
    else:
        packb = msgpack.packb
        for path in paths:
            with open(path, "rb") as stream:
                for record in fastavro.reader(stream):
                    items.append(packb(record))
                    if len(items) == IMPORT_BATCH:
                        body = gzip.compress(b"".join(items), compresslevel=FLOOR_GZIP_LEVEL, mtime=0)
                        events += len(items)
                        items = []
        body = gzip.compress(b"".join(items), compresslevel=FLOOR_GZIP_LEVEL, mtime=0)
    events += len(items)
    del body
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_started
    return {"events": events, "seconds": seconds, "cpu_seconds": cpu_seconds, "wall_started": wall_started,
            "wall_finished": wall_started + seconds}


def _sink(mode: str, url: str):
    import requests

    from airflow_braze_td.treasure_data.client import TDClient
    from airflow_braze_td.treasure_data.endpoints import Endpoints
    from airflow_braze_td.treasure_data.sinks import make_sink

    client = TDClient(requests.Session(), Endpoints.for_region(host=url), KEY)
    return make_sink(mode, client, database="braze", table=TABLE, create_table=True)


def child_project(staging: str, mode: str, url: str, ledger: str, core: int = MEASURE_CORE,
                  event_types: list[str] | None = None, wait_for_go: bool = False, open_delay: float = 0.0,
                  requests_in_flight: int | None = None, dedupe_hours: int | None = None) -> dict:
    """What the operator does after Airflow hands it the task: list, read the ledger, deliver.

    `open_delay` reads the staging through a local filesystem whose every open waits that long, as a GET on
    object storage does (`SlowOpenFileSystem`)."""
    from airflow_braze_td.currents.staging import READ_AHEAD_FILES, StagingArea
    from airflow_braze_td.delivery.filters import EventFilter
    from airflow_braze_td.delivery.lag import pending_files
    from airflow_braze_td.delivery.ledger import Ledger
    from airflow_braze_td.delivery.pipeline import Delivery
    from airflow_braze_td.delivery.settings import DeliverySettings

    _pin(core)
    sink = _sink(mode, url)
    event_filter = EventFilter(event_types=tuple(event_types or ()))
    if wait_for_go:
        _wait_for_go()
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    wall_started = time.time()
    area = StagingArea.from_url(staging)
    if open_delay:
        area = StagingArea(SlowOpenFileSystem(open_delay), area.root, read_ahead_files=READ_AHEAD_FILES)
    store = Ledger.from_url(ledger)
    files = pending_files(area.list(), store.states(), event_types=event_filter.selector)
    settings = DeliverySettings(event_filter=event_filter, requests_in_flight=requests_in_flight,
                                **({} if dedupe_hours is None else {"dedupe_hours": dedupe_hours}))
    summary = Delivery(area, sink, store, settings, owner="bench/deliver/run").run(files)
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_started
    used = os.times()
    return {"events": summary.events_read, "sent": summary.events_sent, "batches": summary.batches,
            "cpu_user": used.user, "cpu_system": used.system, "cpu_seconds": cpu_seconds,
            "files": summary.files, "files_columnar": summary.files_columnar,
            "files_fastavro": dict(summary.files_fastavro), "seconds": seconds, "wall_started": wall_started,
            "wall_finished": wall_started + seconds, "peak_rss_mb": _peak_rss_mb()}


def _data_request(mode: str, number: int) -> tuple[str, str, dict[str, str]]:
    """Method, path and headers of the `number`th data request of `mode` into the emulator's `braze.TABLE`, for
    the children that send without the project's client."""
    if mode == "postback":
        return "POST", f"/postback/v3/event/braze/{TABLE}", {"X-TD-Write-Key": KEY}
    return "PUT", f"/v3/table/import_with_id/braze/{TABLE}/{number:032x}/msgpack.gz", {"Authorization": f"TD1 {KEY}"}


def child_ceiling(staging: str, mode: str, url: str) -> dict:
    """The least work any delivery of these files must do, on one core: the project's readers (`FileEvents`:
    Polars and the one normalisation, or fastavro for a file Polars does not take), the filter, dedupe by a
    plain set of ids, the sink's own encoding in the sink's default batches, and each batch sent by the
    standard library's `http.client`, the cheapest client, one request at a time. No listing, ledger, claims,
    retries or threads. By CPU time against the floor's, it is the most the project's ratio to the floor can be
    here."""
    import http.client
    from urllib.parse import urlsplit

    from isal import igzip

    from airflow_braze_td.currents.events import EventColumns
    from airflow_braze_td.currents.staging import StagingArea
    from airflow_braze_td.delivery.filters import EventFilter

    sink = _sink(mode, url)
    if mode == "import":
        sink.client.ensure_table("braze", TABLE)
    area = StagingArea.from_url(staging)
    files = area.list().files
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port)
    batch_size = sink.limits.max_events
    event_filter = EventFilter()
    seen: set[str] = set()
    _pin(MEASURE_CORE)
    events = sent = posted = 0
    items: list[bytes] = []

    def send() -> None:
        nonlocal posted, sent
        method, path, headers = _data_request(mode, posted)
        if mode == "postback":
            body = b'{"events":[' + b",".join(items) + b"]}"
        else:
            body = igzip.compress(b"".join(items), compresslevel=sink.gzip_level, mtime=0)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the emulator answered {response.status} to the ceiling's {method}")
        posted += 1
        sent += len(items)
        items.clear()

    def add(encoded: list[bytes]) -> None:
        for item in encoded:
            items.append(item)
            if len(items) == batch_size:
                send()

    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    # The project's reading: in this thread on a local disk (the pool starts no thread), ahead on object storage.
    with area.reading_pool() as pool:
        for _, file_events in area.read_ahead(files, pool):
            for part in file_events.parts():
                if type(part) is EventColumns:
                    events += len(part)
                    reasons = event_filter.reasons(part.event_type, part.user.get("external_user_id"), part.times)
                    rows = []
                    for row, (reason, event_id) in enumerate(zip(reasons, part.ids)):
                        if reason is None and event_id not in seen:
                            seen.add(event_id)
                            rows.append(row)
                    if rows:
                        add(sink.encode_columns(part, rows)[1])
                elif type(part) is dict:  # read by fastavro; a `BadEvent` is no event
                    events += 1
                    if event_filter.reason_to_drop(part) is None and part["id"] not in seen:
                        seen.add(part["id"])
                        add([sink.encode(part)[1]])
    if items:
        send()
    return {"events": events, "sent": sent, "requests": posted, "seconds": time.perf_counter() - started,
            "cpu_seconds": _cpu_seconds() - cpu_started}


class SlowOpenFileSystem(LocalFileSystem):
    """A local disk whose every open waits `delay` seconds: the storage twin of the emulator's latency."""

    cachable = False

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def _open(self, path, mode="rb", *args, **kwargs):
        time.sleep(self.delay)
        return super()._open(path, mode, *args, **kwargs)


def child_baseline(staging: str, url: str, max_seconds: float) -> dict:
    """The hand-written DAG task: fastavro, stdlib json, HttpHook.run per batch of 100 (postback envelope)."""
    os.environ["AIRFLOW_CONN_TD_POSTBACK"] = json.dumps(
        {"conn_type": "http", "host": url, "extra": {"X-TD-Write-Key": KEY, "Content-Type": "application/json"}}
    )
    import fastavro
    from airflow.providers.http.hooks.http import HttpHook

    paths = _avro_paths(staging)
    hook = HttpHook(method="POST", http_conn_id="td_postback")
    endpoint = f"postback/v3/event/braze/{TABLE}"
    _pin(MEASURE_CORE)
    events = 0
    batch: list[dict] = []
    complete = True
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as stream:
            for record in fastavro.reader(stream):
                batch.append(record)
                if len(batch) == POSTBACK_BATCH:
                    hook.run(endpoint, data=json.dumps({"events": batch}))
                    events += len(batch)
                    batch = []
        if time.perf_counter() - started > max_seconds:
            complete = False
            break
    if complete and batch:
        hook.run(endpoint, data=json.dumps({"events": batch}))
        events += len(batch)
    return {"events": events, "seconds": time.perf_counter() - started, "complete": complete}


def child_emulator_capacity(url: str, mode: str, seconds: float) -> dict:
    """Requests per second the emulator answers for bodies like the sink's, from a bare keep-alive session,
    over about `seconds` (an import body is stored in tens of milliseconds, a postback in ~2 ms)."""
    import gzip

    import msgpack
    import orjson
    import requests

    _pin(MEASURE_CORE)
    event = {"event_type": "users.messages.email.Open", "id": "0" * 36, "time": 1_764_460_800,
             "user": {"user_id": "u" * 24, "external_user_id": "customer-1"},
             "properties": {f"field_{n}": "value" * 4 for n in range(14)}}
    session = requests.Session()
    if mode == "postback":
        body = b'{"events":[' + b",".join([orjson.dumps(event)] * POSTBACK_BATCH) + b"]}"
        per_request = POSTBACK_BATCH
    else:
        session.post(f"{url}/v3/database/create/braze", headers={"Authorization": f"TD1 {KEY}"}, timeout=30)
        session.post(f"{url}/v3/table/create/braze/{TABLE}/log", headers={"Authorization": f"TD1 {KEY}"}, timeout=30)
        row = msgpack.packb({"time": 1, "id": "0" * 36, **{f"properties_{n}": "value" * 4 for n in range(14)}})
        body = gzip.compress(row * IMPORT_BATCH, mtime=0)
        per_request = IMPORT_BATCH
    started = time.perf_counter()
    sent = 0
    while sent < CAPACITY_MIN_REQUESTS or time.perf_counter() - started < seconds:
        method, path, headers = _data_request(mode, sent)
        session.request(method, url + path, data=body, headers=headers, timeout=60).raise_for_status()
        sent += 1
    elapsed = time.perf_counter() - started
    return {"requests_per_s": sent / elapsed, "events_per_s": sent * per_request / elapsed}


CHILDREN = {"floor": child_floor, "project": child_project, "baseline": child_baseline,
            "ceiling": child_ceiling, "emulator": child_emulator_capacity}


# -- the parent: staging, orchestration, report ---------------------------------------------------------


def _child_command(kind: str, **params: object) -> list[str]:
    return [sys.executable, __file__, "--child", kind, "--params", json.dumps(params)]


def run_child(kind: str, **params: object) -> dict:
    done = subprocess.run(_child_command(kind, **params), capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} measurement failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stage(dest: str, events: int, hours: int, seed: int, codec: str, end_iso: str) -> dict:
    from airflow_braze_td.currents.sample import stage_sample

    return stage_sample(dest, events=events, hours=hours, seed=seed, codec=codec, end=pendulum.parse(end_iso))


def stage_trees(work: Path, events: int, hours: int, codec: str) -> tuple[dict, dict]:
    """The N tree, staged on both cores (two halves of its hours), and the M tree: hard links to the files of
    the N tree's first quarter of hours."""
    first, second = hours // 2, hours - hours // 2
    jobs = [(str(work / "staging-n"), events * first // hours, first, 7, codec, END.subtract(hours=second).isoformat()),
            (str(work / "staging-n"), events - events * first // hours, second, 8, codec, END.isoformat())]
    with ProcessPoolExecutor(2) as pool:
        halves = list(pool.map(_stage, *zip(*jobs, strict=True)))
    from airflow_braze_td.currents.staging import StagingArea

    quarter_ends = END.subtract(hours=hours - hours // 4)
    linked = [staged for staged in StagingArea.from_url(str(work / "staging-n")).list().files
              if staged.queue_hour < quarter_ends]
    for staged in linked:
        copy = work / "memory-m" / staged.key
        copy.parent.mkdir(parents=True, exist_ok=True)
        os.link(work / "staging-n" / staged.key, copy)
    whole = {"files": sum(h["files"] for h in halves), "events": sum(h["events"] for h in halves)}
    return whole, {"files": len(linked), "hours": hours // 4}


def with_server(kind: str, function, *args: object, pin: bool = True, latency: float = 0.0,
                **kwargs: object) -> dict:
    """`function(url, ...)` against a fresh `emulator` or minimal `receiver` process, on the server core unless
    `pin` is off; against the receiver, the result gains its request count."""
    from airflow_braze_td.emulator import start_emulator_process
    from receiver import ReceiverProcess

    server = start_emulator_process(latency=latency) if kind == "emulator" else ReceiverProcess(latency=latency)
    try:
        if pin:
            os.sched_setaffinity(server.pid, {SERVER_CORE})
        result = function(server.url, *args, **kwargs)
    finally:
        counts = server.stop()
    return result if counts is None else {**result, "receiver_requests": counts["requests"]}


def project_run(url: str, staging: str, mode: str, ledger: str) -> dict:
    return run_child("project", staging=staging, mode=mode, url=url, ledger=ledger)


def split_in_two(staging: str) -> tuple[list[list[str]], list[int], int]:
    """The event-type groups of `plan_event_type_groups` dealt to 2 workers by bytes, heaviest first: the
    two shares of event types, their bytes, and the number of groups."""
    from airflow_braze_td.currents.staging import StagingArea
    from airflow_braze_td.delivery.groups import plan_event_type_groups

    files = StagingArea.from_url(staging).list().files
    total = sum(staged.size for staged in files)
    groups = plan_event_type_groups(files, target_bytes=max(1, total // 16))
    sizes = {staged.event_type: 0 for staged in files}
    for staged in files:
        sizes[staged.event_type] += staged.size
    shares: list[list[str]] = [[], []]
    loads = [0, 0]
    for group in sorted(groups, key=lambda g: -sum(sizes[t] for t in g)):
        lighter = loads.index(min(loads))
        shares[lighter].extend(group)
        loads[lighter] += sum(sizes[t] for t in group)
    return shares, loads, len(groups)


def run_pair(kind: str, shares: list[list[str]], **params: object) -> dict:
    """Two `kind` children, pinned to a core each, each on its share of the event types, started together.
    Their time is from the first start to the last finish."""
    workers = [
        subprocess.Popen(_child_command(kind, **params, core=core, event_types=share, wait_for_go=True),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for core, share in enumerate(shares)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=1800)
        if worker.returncode != 0:
            raise RuntimeError(f"a {kind} worker of a pair failed")
        results.append(json.loads(out.strip().splitlines()[-1]))
    seconds = max(r["wall_finished"] for r in results) - min(r["wall_started"] for r in results)
    return {"events": sum(r["events"] for r in results), "seconds": seconds, "workers": results}


def scale_out(url: str, split: tuple[list[list[str]], list[int], int], staging: str, mode: str, ledger: str) -> dict:
    """Two workers, pinned to a core each, each delivering its share (`split_in_two`) of the event-type groups."""
    shares, loads, groups = split
    pair = run_pair("project", shares, staging=staging, mode=mode, url=url, ledger=ledger)
    results = pair["workers"]
    return {"events": pair["events"], "sent": sum(r["sent"] for r in results),
            "seconds": pair["seconds"], "groups": groups, "split_bytes": loads,
            "worker_seconds": [r["seconds"] for r in results],
            "worker_cpu": [(r["cpu_user"], r["cpu_system"]) for r in results],
            "worker_events": [r["events"] for r in results]}


def measure(events: int, hours: int, codec: str, baseline_seconds: float,
            capacity_seconds: float, scale_mode: str, scale_attempts: int,
            latency: float = 0.0, attempts: int = 1) -> tuple[dict, list[tuple]]:
    with tempfile.TemporaryDirectory(prefix="braze-td-bench-") as folder:
        return _measure_in(Path(folder), events, hours, codec, baseline_seconds, capacity_seconds,
                           scale_mode, scale_attempts, latency, attempts)


def _best(runs: list[dict]) -> dict:
    """The fastest of several runs of one measure (the baseline's are time-capped: by events per second)."""
    return max(runs, key=lambda run: run["events"] / run["seconds"])


def _measure_in(work: Path, events: int, hours: int, codec: str, baseline_seconds: float,
                capacity_seconds: float, scale_mode: str, scale_attempts: int,
                latency: float, attempts: int) -> tuple[dict, list[tuple]]:
    rows: list[tuple] = []
    started = time.perf_counter()
    staged, memory_tree = stage_trees(work, events, hours, codec)
    staging_seconds = time.perf_counter() - started
    n_tree, m_tree = str(work / "staging-n"), str(work / "memory-m")

    # The ratios of runs minutes apart on a noisy machine: with more than one attempt, the floor, the project
    # and the baseline run in turn, each attempt on a fresh ledger, and each measure keeps its best run.
    floors: dict[str, list[dict]] = {mode: [] for mode in MODES}
    projects: dict[str, list[dict]] = {mode: [] for mode in MODES}
    ceilings: dict[str, list[dict]] = {mode: [] for mode in MODES}
    baselines: list[dict] = []
    for attempt in range(attempts):
        for mode in MODES:
            floors[mode].append(run_child("floor", staging=n_tree, mode=mode))
            projects[mode].append(with_server("emulator", project_run, n_tree, mode,
                                              str(work / f"ledger-{mode}-{attempt}")))
            ceilings[mode].append(with_server("emulator", lambda url, m=mode: run_child("ceiling", staging=n_tree,
                                                                                         mode=m, url=url)))
        baselines.append(with_server("emulator", lambda url: run_child("baseline", staging=n_tree, url=url,
                                                                       max_seconds=baseline_seconds)))
    floor = {mode: _best(floors[mode]) for mode in MODES}
    project = {mode: _best(projects[mode]) for mode in MODES}
    ceiling = {mode: min(ceilings[mode], key=lambda run: run["cpu_seconds"]) for mode in MODES}
    for mode in MODES:  # the same events, or the ceiling would not bound the same work
        if ceiling[mode]["sent"] != project[mode]["sent"]:
            raise RuntimeError(f"the {mode} ceiling sent {ceiling[mode]['sent']:,} events, the project "
                               f"{project[mode]['sent']:,}")
    baseline = _best(baselines)
    # What 2 cores give the floor itself, split as the 2 workers are: the most the project could scale by here.
    split = split_in_two(n_tree)
    floor_pair = run_pair("floor", split[0], staging=n_tree, mode=scale_mode)
    # The same delivery against an emulator answering after `latency`, as TD does over the internet.
    slowed = {mode: with_server("emulator", project_run, n_tree, mode, str(work / f"ledger-{mode}-latency"),
                                latency=latency) for mode in MODES} if latency else {}
    capacity = {mode: with_server("emulator", lambda url, m=mode: run_child("emulator", url=url, mode=m,
                                                                             seconds=capacity_seconds))
                for mode in MODES}
    # The ratio of two short runs on a noisy machine: with more than one attempt, 1 and 2 workers interleaved,
    # best of each.
    ones, twos = [], []
    for attempt in range(scale_attempts):
        ones.append(with_server("receiver", project_run, n_tree, scale_mode,
                                str(work / f"ledger-receiver-1-{attempt}")))
        twos.append(with_server("receiver", scale_out, split, n_tree, scale_mode,
                                str(work / f"ledger-receiver-2-{attempt}"), pin=False))
    one_receiving = min(ones, key=lambda run: run["seconds"])
    two_receiving = min(twos, key=lambda run: run["seconds"])
    for run in (*ones, *twos):
        if run["sent"] != project[scale_mode]["sent"]:
            raise RuntimeError(f"a scale-out run sent {run['sent']:,} events, not {project[scale_mode]['sent']:,}")
    memory_mode = max(MODES, key=lambda mode: project[mode]["peak_rss_mb"])
    small_run = with_server("emulator", project_run, m_tree, memory_mode, str(work / "ledger-m"))
    big_run = project[memory_mode]

    eps = lambda r: r["events"] / r["seconds"]  # noqa: E731
    floor_by_mode = {mode: eps(floor[mode]) for mode in MODES}
    project_eps = {mode: eps(project[mode]) for mode in MODES}
    baseline_eps = eps(baseline)
    ceiling_eps_cpu = {mode: ceiling[mode]["events"] / ceiling[mode]["cpu_seconds"] for mode in MODES}
    result = {
        "events": staged["events"], "files": staged["files"], "hours": hours, "codec": codec,
        "staging_seconds": staging_seconds,
        "floor_eps": floor_by_mode["postback"],
        "floor_eps_by_mode": floor_by_mode,
        "project_eps": project_eps,
        "baseline_eps": baseline_eps,
        "project_vs_floor": {mode: project_eps[mode] / floor_by_mode[mode] for mode in MODES},
        "project_vs_baseline": {mode: project_eps[mode] / baseline_eps for mode in MODES},
        "project_vs_floor_cpu": {mode: floor[mode]["cpu_seconds"] / project[mode]["cpu_seconds"] for mode in MODES},
        "ceiling_eps_cpu": ceiling_eps_cpu,
        "ceiling_vs_floor_cpu": {mode: floor[mode]["cpu_seconds"] / ceiling[mode]["cpu_seconds"] for mode in MODES},
        "ceiling_requests": {mode: ceiling[mode]["requests"] for mode in MODES},
        # The project runs on one core, so its events per second are at most its events per CPU second.
        "ceiling_vs_baseline": {mode: ceiling_eps_cpu[mode] / baseline_eps for mode in MODES},
        "scale_mode": scale_mode,
        "scale_2_workers": eps(two_receiving) / eps(one_receiving),
        "scale_2_workers_eps": eps(two_receiving),
        "project_eps_minimal_receiver": eps(one_receiving),
        "floor_scale_2_cores": eps(floor_pair) / floor_by_mode[scale_mode],
        "emulator_capacity_eps": {mode: capacity[mode]["events_per_s"] for mode in MODES},
        "memory_mode": memory_mode,
        "peak_rss_mb": {"n": small_run["peak_rss_mb"], "4n": big_run["peak_rss_mb"]},
        "memory_events": {"n": small_run["events"], "4n": big_run["events"]},
        "memory_files": {"n": memory_tree["files"], "4n": staged["files"]},
        "memory_hours": {"n": memory_tree["hours"], "4n": hours},
        "peak_rss_mb_at_events_by_mode": {mode: project[mode]["peak_rss_mb"] for mode in MODES},
        "files_columnar": {mode: project[mode]["files_columnar"] for mode in MODES},
        "files_fastavro": {mode: project[mode]["files_fastavro"] for mode in MODES},
        "seconds": {"floor": {m: floor[m]["seconds"] for m in MODES}, "project": {m: project[m]["seconds"] for m in MODES},
                    "baseline": baseline["seconds"], "scale_2_workers": two_receiving["seconds"],
                    "floor_2_cores": floor_pair["seconds"],
                    "minimal_receiver_1_worker": one_receiving["seconds"],
                    "minimal_receiver_attempts": {"1_worker": [run["seconds"] for run in ones],
                                                  "2_workers": [run["seconds"] for run in twos]},
                    "memory_n": small_run["seconds"]},
        "baseline_events": baseline["events"],
        "attempts": attempts,
        "attempt_seconds": {"floor": {m: [run["seconds"] for run in floors[m]] for m in MODES},
                            "project": {m: [run["seconds"] for run in projects[m]] for m in MODES},
                            "baseline_eps": [run["events"] / run["seconds"] for run in baselines]},
    }
    if slowed:
        result["latency_ms"] = latency * 1000
        result["project_eps_at_latency"] = {mode: eps(slowed[mode]) for mode in MODES}
        result["latency_ratio"] = {mode: eps(slowed[mode]) / project_eps[mode] for mode in MODES}
    for mode in MODES:
        rows.append((f"floor {mode} (decode + serialise{' + gzip' if mode == 'import' else ''})",
                     floor[mode]["events"], floor[mode]["seconds"], floor_by_mode[mode],
                     f"1 core; {_attempts(floors[mode])}"))
    rows.append((f"floor {scale_mode}, 2 processes", floor_pair["events"], floor_pair["seconds"], eps(floor_pair),
                 "pinned to a core each, split as the 2 workers are"))
    for mode in MODES:
        rows.append((f"project {mode}", project[mode]["events"], project[mode]["seconds"], project_eps[mode],
                     f"1 core, {project[mode]['batches']:,} batches, peak RSS {project[mode]['peak_rss_mb']:.0f} MB, "
                     f"{_readers(project[mode])}; {_attempts(projects[mode])}"))
    for mode in MODES:
        run = ceiling[mode]
        rows.append((f"ceiling {mode} (least work, by CPU time)", run["events"], run["cpu_seconds"],
                     ceiling_eps_cpu[mode],
                     f"1 core, {run['requests']:,} requests by http.client, {run['sent']:,} events sent; "
                     f"{_attempts(ceilings[mode], 'cpu_seconds')}"))
    for mode, run in slowed.items():
        rows.append((f"project {mode}, TD at {latency * 1000:.0f} ms", run["events"], run["seconds"], eps(run),
                     f"1 core, {result['latency_ratio'][mode]:.2f} x its rate with TD answering at once"))
    partial = "" if baseline["complete"] else f", first {baseline['events']:,} events ({baseline_seconds:g} s cap)"
    rows.append(("baseline HttpHook + json", baseline["events"], baseline["seconds"], baseline_eps, f"1 core{partial}"))
    rows.append((f"project {scale_mode}, minimal receiver", one_receiving["events"], one_receiving["seconds"],
                 eps(one_receiving), f"1 core, receiver on the other, {one_receiving['receiver_requests']:,} requests; "
                 f"{_attempts(ones)}"))
    rows.append((f"project {scale_mode}, 2 workers, minimal receiver", two_receiving["events"],
                 two_receiving["seconds"], eps(two_receiving),
                 f"2 pinned cores, receiver unpinned, {two_receiving['receiver_requests']:,} requests; "
                 f"{two_receiving['groups']} groups; {_attempts(twos)}"))
    for mode in MODES:
        rows.append((f"emulator capacity {mode}", None, None, capacity[mode]["events_per_s"],
                     f"{capacity[mode]['requests_per_s']:,.0f} requests/s from a bare session"))
    for label, run, run_hours in (("N/4", small_run, memory_tree["hours"]), ("N", big_run, hours)):
        rows.append((f"project {memory_mode}, memory {label}", run["events"], run["seconds"], eps(run),
                     f"{run_hours} queue hour{'s' if run_hours != 1 else ''}, peak RSS {run['peak_rss_mb']:.0f} MB"))
    return result, rows


def _readers(run: dict) -> str:
    """How many files each reader read: the columnar one, and fastavro with the columnar reader's reasons."""
    fastavro = sum(run["files_fastavro"].values())
    reasons = "".join(f"; {count:,} {reason}" for reason, count in sorted(run["files_fastavro"].items()))
    return f"{run['files_columnar']:,} files columnar, {fastavro:,} fastavro{reasons}"


def _attempts(runs: list[dict], measure: str = "seconds") -> str:
    return "one run" if len(runs) == 1 else "best of " + "/".join(f"{run[measure]:.2f}" for run in runs) + " s"


def write_json(path: Path | None, result: dict) -> None:
    """The figures as JSON at `path`, when one is given."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")


def print_report(result: dict, rows: list[tuple]) -> None:
    print(f"\n{result['events']:,} events in {result['files']:,} Avro files over {result['hours']} queue hours "
          f"(codec {result['codec']}); staging took {result['staging_seconds']:.0f} s\n")
    print(f"{'measure':<44} {'events':>11} {'seconds':>8} {'events/s':>10}  notes")
    for name, events, seconds, rate, note in rows:
        shown_events = "" if events is None else f"{events:,}"
        shown_seconds = "" if seconds is None else f"{seconds:.2f}"
        print(f"{name:<44} {shown_events:>11} {shown_seconds:>8} {rate:>10,.0f}  {note}")
    print()
    for mode in MODES:
        print(f"project/floor    {mode:<9} {result['project_vs_floor'][mode]:.2f}")
    for mode in MODES:
        print(f"project/floor    {mode:<9} {result['project_vs_floor_cpu'][mode]:.2f} by CPU time (events per CPU "
              "second, every thread of the project's process)")
    for mode in MODES:
        print(f"ceiling/floor    {mode:<9} {result['ceiling_vs_floor_cpu'][mode]:.2f} by CPU time: the most the "
              "project's ratio can be here (the least work: read, filter, dedupe, encode, send)")
    for mode in MODES:
        print(f"project/baseline {mode:<9} {result['project_vs_baseline'][mode]:.2f}")
    for mode in MODES:
        print(f"ceiling/baseline {mode:<9} {result['ceiling_vs_baseline'][mode]:.2f}: the most project/baseline can be "
              "here (on one core, events per second are at most events per CPU second)")
    print(f"2 workers/1 worker ({result['scale_mode']}) {result['scale_2_workers']:.2f} against the minimal receiver; "
          f"the floor itself scales {result['floor_scale_2_cores']:.2f} on 2 cores")
    rss, counted = result["peak_rss_mb"], result["memory_events"]
    print(f"peak RSS ({result['memory_mode']}): {counted['n']:,} events {rss['n']:.0f} MB, {counted['4n']:,} events "
          f"{rss['4n']:.0f} MB ({(rss['4n'] / rss['n'] - 1) * 100:+.1f} %); the 4x tree keeps the events per hour "
          f"and has {result['memory_hours']['4n']} hours instead of {result['memory_hours']['n']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=8, help="queue hours of the staged tree (a multiple of 4: the "
                        "memory pair's smaller run takes the first quarter of them)")
    parser.add_argument("--codec", default="null")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CI smoke test")
    parser.add_argument("--attempts", type=int, default=1,
                        help="runs of the floor, the project and the baseline, in turn, best of each (default 1; "
                             "`make bench` takes 2: a steadier ratio on a noisy machine for about 100 s more)")
    parser.add_argument("--scale-mode", default="postback", choices=MODES)
    parser.add_argument("--scale-attempts", type=int, default=1,
                        help="runs of 1 and of 2 workers against the minimal receiver, best of each (default 1, "
                             "so that the default run stays within 5 minutes; 2 gives a steadier ratio)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="also measure each mode against an emulator answering after this long (TD over the "
                             "internet: about 50)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](**json.loads(args.params))))
        return 0
    events, hours = (20_000, 4) if args.quick else (args.events, args.hours)
    if hours < 4 or hours % 4:
        parser.error("--hours must be a multiple of 4")
    if args.scale_attempts < 1 or args.attempts < 1:
        parser.error("--attempts and --scale-attempts must be at least 1")
    result, rows = measure(events, hours, args.codec, baseline_seconds=5.0 if args.quick else 6.0,
                           capacity_seconds=0.5 if args.quick else 3.0, scale_mode=args.scale_mode,
                           scale_attempts=args.scale_attempts, latency=args.latency_ms / 1000,
                           attempts=args.attempts)
    print_report(result, rows)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
