"""Peak memory of streaming one 1,000,000-event staged Avro file through the reader.

Writes the file once (fastavro, the catalog's `users.messages.email.Open` schema), then reads it in a
fresh process through the project's reader and prints the peak RSS next to the same process's RSS
after imports, so the figure shows what reading adds.

    .venv/bin/python benchmarks/read_memory.py [--events N] [--codec deflate]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READER = """
import json, resource, sys, time
from airflow_braze_td.currents.decode import iter_events
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
count = 0
with open(sys.argv[1], "rb") as stream:
    for event in iter_events(stream, sys.argv[1]):
        count += 1
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"events": count, "seconds": seconds, "rss_after_imports_mb": before / 1024, "peak_rss_mb": peak / 1024}))
"""


def write_file(path: Path, events: int, codec: str) -> None:
    import fastavro

    from airflow_braze_td.currents.catalog import avro_schema

    def records():
        for number in range(events):
            yield {
                "id": f"{number:08x}-0000-4000-8000-000000000000",
                "user_id": f"{number:024x}",
                "external_user_id": f"customer-{number}" if number % 10 else None,
                "time": 1_764_460_800 + number % 3600,
                "timezone": "America/New_York",
                "campaign_id": "5a1b2c3d4e5f60718293a4b5",
                "campaign_name": "Winter launch",
                "email_address": f"user{number}@example.com",
                "dispatch_id": "d" * 24,
                "send_id": "s" * 24,
            }

    schema = fastavro.parse_schema(avro_schema("users.messages.email.Open"))
    with path.open("wb") as out:
        fastavro.writer(out, schema, records(), codec=codec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--codec", default="null")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "users.messages.email.Open.avro"
        started = time.perf_counter()
        write_file(path, args.events, args.codec)
        print(f"wrote {args.events:,} events ({path.stat().st_size / 2**20:.0f} MiB, codec {args.codec}) "
              f"in {time.perf_counter() - started:.1f} s")
        result = json.loads(subprocess.run([sys.executable, "-c", READER, str(path)], check=True,
                                           capture_output=True, text=True).stdout)
    print(f"read {result['events']:,} events in {result['seconds']:.1f} s "
          f"({result['events'] / result['seconds']:,.0f} events/s)")
    print(f"RSS after imports {result['rss_after_imports_mb']:.0f} MB; peak RSS while reading "
          f"{result['peak_rss_mb']:.0f} MB (+{result['peak_rss_mb'] - result['rss_after_imports_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
