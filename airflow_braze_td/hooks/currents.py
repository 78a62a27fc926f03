"""`CurrentsExportHook`: a staging URL plus an optional connection -> the Airflow-free staging core."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property

import pendulum

from airflow.providers.common.compat.sdk import BaseHook, ObjectStoragePath
from airflow_braze_td.currents.decode import BadEvent
from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.currents.staging import Listing, StagingArea


class CurrentsExportHook(BaseHook):
    """Lists and streams Braze Currents staged exports under any `ObjectStoragePath` URL.

    :param staging_url: `s3://bucket/prefix`, `gs://…`, `abfs://…`, `file:///…` or a bare local path.
    :param conn_id: optional Airflow connection that holds the storage credentials (e.g. `aws_default`).
    """

    conn_name_attr = "conn_id"
    hook_name = "Braze Currents staged export"

    def __init__(self, staging_url: str, conn_id: str | None = None) -> None:
        super().__init__()
        self.staging_url = staging_url
        self.conn_id = conn_id

    @cached_property
    def staging(self) -> StagingArea:
        path = ObjectStoragePath(str(self.staging_url), conn_id=self.conn_id)
        return StagingArea(path.fs, path.path)

    def list_files(self) -> Listing:
        """Every staged file under the prefix, and the keys that match no layout."""
        return self.staging.list()

    def select_files(
        self,
        event_types: Iterable[str] | None = None,
        since: pendulum.DateTime | None = None,
        until: pendulum.DateTime | None = None,
    ) -> list[StagedFile]:
        """Files of the chosen event types (names or glob patterns) queued in `[since, until)`."""
        return self.list_files().select(event_types, since, until)

    def iter_events(self, staged: StagedFile) -> Iterator[dict | BadEvent]:
        """The normalised events of one staged file, streamed."""
        return self.staging.iter_events(staged)
