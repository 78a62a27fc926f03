"""`python -m airflow_braze_td.emulator`: run a local Treasure Data emulator until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse

from airflow_braze_td.emulator.server import serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m airflow_braze_td.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port (printed on startup)")
    parser.add_argument("--store", default=":memory:", help="sqlite file to keep data in, or :memory:")
    parser.add_argument("--api-key", action="append", default=[], help="a master key (repeatable)")
    parser.add_argument("--write-key", action="append", default=[], help="a write-only key (repeatable)")
    parser.add_argument("--strict-postback", action="store_true", help="answer 403 to a bad postback key")
    parser.add_argument("--visibility-delay", type=float, default=0.0, help="seconds before stored rows show")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="hold every data request (postback, import, ingest) this long, as TD over the internet")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        store=args.store,
        api_keys=args.api_key,
        write_keys=args.write_key,
        strict_postback=args.strict_postback,
        visibility_delay=args.visibility_delay,
        latency=args.latency_ms / 1000,
    )


if __name__ == "__main__":
    main()
