"""The delivery ledger at an `ObjectStoragePath` URL: how the operator, the sensor and the trigger open it."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import ObjectStoragePath
from airflow_braze_td.delivery.ledger import Ledger


def ledger_at(url: str, conn_id: str | None = None) -> Ledger:
    """The delivery ledger at `url` (`s3://…`, `gs://…`, `file:///…` or a local path), credentials from `conn_id`."""
    path = ObjectStoragePath(str(url), conn_id=conn_id)
    return Ledger(path.fs, path.path)
