"""`braze-td`: the command line of the provider (debugging views, sample data, the TD emulator, delivery status).

Every failure a user can cause ends in one line on stderr that names what to fix, and exit code 3;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Sequence

# Importing Airflow 2.11, and the requests release its constraints pin, prints warnings (Airflow's own
# deprecations, requests' version check) that are not the user's concern: stderr holds one line per failure.
# Airflow 2 installs filters that show its deprecations unless Python was given -W options, so say there was one.
warnings.filterwarnings("ignore", module=r"(airflow|requests)(\.|$)")
sys.warnoptions.append("ignore::DeprecationWarning:airflow")

from airflow_braze_td.cli.errors import ERROR, explain  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    from airflow_braze_td.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    from airflow_braze_td.compat import drop_stdout_log_handlers

    drop_stdout_log_handlers()  # stdout carries the command's output, and the logging below applies, on Airflow 2 too
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if args.debug else "braze-td: %(message)s",
    )
    try:
        code = args.handler(args)
        sys.stdout.flush()  # here, so that a reader gone early is reported like any other failure
        return code
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.debug:
            raise
        if isinstance(error, BrokenPipeError):
            _silence_stdout()
        print(f"braze-td: {explain(error)}", file=sys.stderr)
        return ERROR


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
