"""The real `braze-td` command in a subprocess, as a user runs it, and the reliability tests' world (a staging
tree, a ledger and the TD emulator) to run it against."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import World, world  # noqa: F401  (`world` is a fixture)

BRAZE_TD = Path(sys.executable).with_name("braze-td")


def braze_td(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script; no Treasure Data connection unless `env` defines one."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW_CONN_")}
    environment.update(env or {})
    return subprocess.run([str(BRAZE_TD), *map(str, args)], capture_output=True, text=True, env=environment,
                          timeout=120, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one stderr line of a failure, after checking the exit code and that no traceback was printed."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("braze-td"), result.stderr
    return lines[0]
