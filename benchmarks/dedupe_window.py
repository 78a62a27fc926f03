"""Dedupe window: memory and reading cost of a 48-hour window full of ids, and events/s at 48 h against 1 h.

- window: a ledger holding `--hours` queue hours of `--ids-per-hour` ids of one event type (36-character
  random ids, in 4 bundle objects an hour, as `Delivery` writes them); a fresh process opens the window a
  delivery of the next hour opens and reports its peak RSS, the ids held, bytes per id (held, and RSS above
  the interpreter), the seconds the reading took, the storage calls per hour read, and the lookup's cost for
  new ids and for duplicates. Beside it, what one hour of those ids takes as a set of their hashes and as a
  set of the strings (tracemalloc), and the false-positive rule measured on hashes cut to 24 bits.
- throughput: `Delivery` of a staged sample tree (postback, the emulator in its own process, one pinned
  core), with `dedupe_hours` 1 and 48 interleaved, best of `--attempts` each: the window's own cost in the
  hot loop.

    .venv/bin/python benchmarks/dedupe_window.py [--ids-per-hour N] [--hours H] [--events E] [--attempts K] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from array import array
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from throughput import END, MEASURE_CORE, _peak_rss_mb, _pin, run_child, with_server, write_json

EVENT_TYPE = "users.messages.email.Open"
BUNDLES_PER_HOUR = 4
FIRST_HOUR = 490_000  # a Unix hour (November 2025)
PROBES = 200_000
TRUNCATED_BITS = 24


def random_ids(count: int) -> list[str]:
    """`count` random ids of 36 characters (the length of Braze's UUIDs)."""
    text = os.urandom(18 * count).hex()
    return [text[start:start + 36] for start in range(0, 36 * count, 36)]


def random_id_hashes(count: int) -> array:
    """The hashes of `count` random ids, as a delivery keeps them (uniform 64-bit values)."""
    return array("Q", os.urandom(8 * count))


def fill_ledger(ledger_url: str, hours: int, ids_per_hour: int) -> None:
    from airflow_braze_td.delivery.ledger import Ledger

    ledger = Ledger.from_url(ledger_url)
    share = ids_per_hour // BUNDLES_PER_HOUR
    for hour in range(FIRST_HOUR, FIRST_HOUR + hours):
        for bundle in range(BUNDLES_PER_HOUR):
            count = share if bundle < BUNDLES_PER_HOUR - 1 else ids_per_hour - share * (BUNDLES_PER_HOUR - 1)
            ledger.save_bundle_ids(f"bench-{hour}-{bundle}", {(EVENT_TYPE, hour): {f"file-{bundle}": random_id_hashes(count)}})


def child_window(ledger: str, hours: int, window_hours: int) -> dict:
    """Open the window a delivery of the hour after the ledger's last opens, in a fresh process."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    from airflow_braze_td.delivery.filters import DedupeWindow
    from airflow_braze_td.delivery.ledger import Ledger

    class CountingFileSystem(LocalFileSystem):
        cachable = False
        calls: dict[str, int] = {}

        def _count(self, name: str, number: int = 1) -> None:
            self.calls[name] = self.calls.get(name, 0) + number

        def ls(self, path, detail=False, **kwargs):
            self._count("list")
            return super().ls(path, detail=detail, **kwargs)

        def cat(self, path, recursive=False, on_error="raise", **kwargs):
            self._count("read", len(path) if isinstance(path, list) else 1)
            return super().cat(path, recursive=recursive, on_error=on_error, **kwargs)

    _pin(MEASURE_CORE)
    store = Ledger(CountingFileSystem(), fsspec.core.url_to_fs(ledger)[1])
    before = _peak_rss_mb()
    window = DedupeWindow(window_hours, store.load_id_hashes, store.id_hours)
    hour = FIRST_HOUR + hours
    started, cpu_started = time.perf_counter(), time.process_time()
    new_id_hash = window.checker(EVENT_TYPE, hour)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    peak = _peak_rss_mb()
    held, nbytes = window.ids_held, window.bytes_held
    fresh = random_ids(PROBES)
    started = time.perf_counter()
    new = list(map(new_id_hash, fresh)).count(None)
    new_ns = (time.perf_counter() - started) / PROBES * 1e9
    started = time.perf_counter()
    again = list(map(new_id_hash, fresh)).count(None)
    duplicate_ns = (time.perf_counter() - started) / PROBES * 1e9
    if new or again != PROBES:
        raise RuntimeError(f"lookup is wrong: {new} new ids taken for duplicates, {again} of {PROBES} found again")
    hours_read = min(hours, window_hours)
    return {"window_hours": window_hours, "ids_held": held, "bytes_held": nbytes, "bytes_per_id": nbytes / max(held, 1),
            "rss_before_mb": before, "peak_rss_mb": peak,
            "rss_bytes_per_id": (peak - before) * 2**20 / max(held, 1), "read_seconds": seconds,
            "read_cpu_seconds": cpu_seconds, "read_cpu_seconds_per_million_ids": cpu_seconds / max(held, 1) * 1e6, "hours_read": hours_read,
            "storage_calls": CountingFileSystem.calls,
            "storage_calls_per_hour": {name: count / max(hours_read, 1) for name, count in CountingFileSystem.calls.items()},
            "lookup_ns_new": new_ns, "lookup_ns_duplicate": duplicate_ns}


def child_sets(ids_per_hour: int) -> dict:
    """One hour of ids held as a set of their hashes, and as a set of the strings: bytes per id."""
    import tracemalloc

    from airflow_braze_td.identities import id_hash

    ids = random_ids(ids_per_hour)
    tracemalloc.start()
    hashes = set(map(id_hash, ids))
    int_set = tracemalloc.get_traced_memory()[0]
    del hashes
    tracemalloc.stop()
    tracemalloc.start()
    strings = set(random_ids(ids_per_hour))
    str_set = tracemalloc.get_traced_memory()[0]
    del strings
    return {"set_of_hashes_bytes_per_id": int_set / ids_per_hour, "set_of_ids_bytes_per_id": str_set / ids_per_hour}


def child_false_positives(ids: int) -> dict:
    """Hashes cut to `TRUNCATED_BITS` bits: the share of new ids whose hash matches one of `ids` held, against
    the rule's held / 2**bits; the same rule gives the odds at 64 bits."""
    from airflow_braze_td.identities import id_hash

    mask = (1 << TRUNCATED_BITS) - 1
    held = {id_hash(text) & mask for text in random_ids(ids)}
    probes = random_ids(PROBES)
    measured = sum((id_hash(text) & mask) in held for text in probes) / PROBES
    return {"bits": TRUNCATED_BITS, "ids": ids, "measured": measured, "computed": len(held) / 2**TRUNCATED_BITS}


def child_project_run(url: str, staging: str, ledger: str, dedupe_hours: int) -> dict:
    return run_child("project", staging=staging, mode="postback", url=url, ledger=ledger, dedupe_hours=dedupe_hours)


def measure(work: Path, ids_per_hour: int, hours: int, events: int, attempts: int) -> dict:
    ledger = str(work / "ledger-window")
    started = time.perf_counter()
    fill_ledger(ledger, hours, ids_per_hour)
    fill_seconds = time.perf_counter() - started
    windows = {window: in_fresh_process(child_window, ledger=ledger, hours=hours, window_hours=window)
               for window in (48, 1)}
    sets = in_fresh_process(child_sets, ids_per_hour=min(ids_per_hour, 1_000_000))
    false_positives = in_fresh_process(child_false_positives, ids=min(ids_per_hour, 1_000_000))
    held = windows[48]["ids_held"]
    odds_per_billion = held / 2**64 * 1e9

    from airflow_braze_td.currents.sample import stage_sample

    staging = str(work / "staging")
    staged = stage_sample(staging, events=events, hours=4, seed=3, end=END)
    runs: dict[int, list[dict]] = {1: [], 48: []}
    for attempt in range(attempts):
        for window in (1, 48):
            runs[window].append(with_server("emulator", child_project_run, staging,
                                            str(work / f"ledger-run-{window}-{attempt}"), window))
    best = {window: min(found, key=lambda run: run["seconds"]) for window, found in runs.items()}
    eps = {window: run["events"] / run["seconds"] for window, run in best.items()}
    return {"ids_per_hour": ids_per_hour, "hours": hours, "fill_seconds": fill_seconds, "window": windows,
            "sets": sets, "false_positives": false_positives, "false_drops_per_billion_events_64_bit": odds_per_billion,
            "throughput": {"events": staged["events"], "files": staged["files"], "attempts": attempts,
                           "eps": {str(window): rate for window, rate in eps.items()},
                           "seconds": {str(window): [run["seconds"] for run in found] for window, found in runs.items()},
                           "sent": {str(window): run["sent"] for window, run in best.items()},
                           "ratio_48_to_1": eps[48] / eps[1]}}


def in_fresh_process(function: Callable[..., dict], **params: object) -> dict:
    """`function(**params)` in a fresh interpreter (spawned), so its peak RSS is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, **params).result()


def print_report(result: dict) -> None:
    print(f"\nledger: {result['hours']} queue hours x {result['ids_per_hour']:,} ids of one event type "
          f"({BUNDLES_PER_HOUR} bundle objects an hour), written in {result['fill_seconds']:.0f} s")
    for window, found in result["window"].items():
        calls = ", ".join(f"{count:.2f} {name}" for name, count in found["storage_calls_per_hour"].items())
        print(f"window {window:>2} h: {found['ids_held']:,} ids held, {found['bytes_per_id']:.1f} bytes/id held "
              f"({found['rss_bytes_per_id']:.1f} by RSS), peak RSS {found['peak_rss_mb']:.0f} MB "
              f"({found['rss_before_mb']:.0f} MB before); read in {found['read_seconds']:.1f} s, "
              f"{found['read_cpu_seconds']:.1f} s of CPU ({found['read_cpu_seconds_per_million_ids']:.2f} s per million "
              f"ids); per hour read: {calls}; lookup "
              f"{found['lookup_ns_new']:.0f} ns (new id), {found['lookup_ns_duplicate']:.0f} ns (duplicate)")
    sets = result["sets"]
    print(f"one hour as a set of hashes: {sets['set_of_hashes_bytes_per_id']:.0f} bytes/id; as a set of ids: "
          f"{sets['set_of_ids_bytes_per_id']:.0f} bytes/id")
    fp = result["false_positives"]
    print(f"false positives at {fp['bits']} bits, {fp['ids']:,} ids held: measured {fp['measured']:.5f}, computed "
          f"{fp['computed']:.5f}; at 64 bits with the 48 h window full: "
          f"{result['false_drops_per_billion_events_64_bit']:.4f} per billion events")
    run = result["throughput"]
    print(f"delivery, postback, {run['events']:,} events in {run['files']:,} files: 1 h window "
          f"{run['eps']['1']:,.0f} events/s, 48 h window {run['eps']['48']:,.0f} events/s "
          f"(ratio {run['ratio_48_to_1']:.3f}, best of {run['attempts']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids-per-hour", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--attempts", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args(argv)
    ids_per_hour, events, attempts = (2_000, 10_000, 1) if args.quick else (args.ids_per_hour, args.events, args.attempts)
    with tempfile.TemporaryDirectory(prefix="braze-td-dedupe-") as folder:
        result = measure(Path(folder), ids_per_hour, args.hours, events, attempts)
    print_report(result)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
