"""The few places where Airflow 2.11 and Airflow 3 differ beyond what `airflow.providers.common.compat` covers.

Everything else imports Airflow through `airflow.providers.common.compat.sdk`; nothing outside this module
looks at Airflow's version or its module layout.
"""

from __future__ import annotations

import logging
import sys

try:  # Airflow 3
    from airflow.sdk.io import store as object_store
except ImportError:  # Airflow 2.11
    from airflow.io import store as object_store

__all__ = ["console_logs_to_stderr", "object_store"]


class _StderrHandler(logging.StreamHandler):
    """A console handler that writes to whatever `sys.stderr` is at the time (as Airflow's own handler does)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        """The stream is always the current `sys.stderr`."""


def console_logs_to_stderr() -> None:
    """Move console log handlers that write to stdout over to stderr, so that a command's stdout holds only its
    output (JSON). Airflow 2's logging configuration sends its console handler to stdout; Airflow 3's does not."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            replacement = _StderrHandler()
            replacement.setLevel(handler.level)
            replacement.setFormatter(handler.formatter)
            for log_filter in handler.filters:
                replacement.addFilter(log_filter)
            root.removeHandler(handler)
            root.addHandler(replacement)
