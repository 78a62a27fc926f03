"""The few places where Airflow 2.11 and Airflow 3 differ beyond what `airflow.providers.common.compat` covers.

Everything else imports Airflow through `airflow.providers.common.compat.sdk`; nothing outside this module
looks at Airflow's version or its module layout.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

try:  # Airflow 3
    from airflow.sdk.io import store as object_store
except ImportError:  # Airflow 2.11
    from airflow.io import store as object_store

# Airflow 3's API server serves plugins' FastAPI apps and UI views and guards them with its auth; Airflow 2.11's
# Flask webserver has neither. Looked up, not imported: the security module pulls in the ORM models.
SERVES_FASTAPI_PLUGINS = importlib.util.find_spec("airflow.api_fastapi") is not None

__all__ = ["SERVES_FASTAPI_PLUGINS", "drop_stdout_log_handlers", "object_store"]


def drop_stdout_log_handlers() -> None:
    """Remove the root logger's handlers that write to stdout, so that a command's stdout holds only its output
    and its own logging set-up applies. Airflow 2's logging configuration, run when Airflow is imported (as this
    module does), puts such a console handler on the root logger; Airflow 3's does not."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            root.removeHandler(handler)
