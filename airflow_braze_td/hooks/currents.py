"""`CurrentsExportHook`: a staging URL plus an optional connection -> the Airflow-free staging core."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

import pendulum

from airflow.providers.common.compat.sdk import BaseHook, ObjectStoragePath
from airflow_braze_td.currents.decode import BadEvent
from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.currents.staging import Listing, StagingArea
from airflow_braze_td.get_provider_info import CURRENTS_CONNECTION as CONNECTION_TYPE_INFO

class CurrentsExportHook(BaseHook):
    """Lists and streams Braze Currents staged exports under any `ObjectStoragePath` URL.

    :param staging_url: `s3://bucket/prefix`, `gs://…`, `abfs://…`, `file:///…` or a bare local path.
        When omitted, the `braze_currents` connection's host holds it.
    :param conn_id: optional storage connection with the bucket's credentials (e.g. `aws_default`).
    :param currents_conn_id: optional `braze_currents` connection (staging URL and storage connection).
    """

    conn_name_attr = "currents_conn_id"
    default_conn_name = "braze_currents_default"
    conn_type = "braze_currents"
    hook_name = "Braze Currents staged export"

    def __init__(
        self, staging_url: str | None = None, conn_id: str | None = None, currents_conn_id: str | None = None
    ) -> None:
        super().__init__()
        if not staging_url and not currents_conn_id:
            raise ValueError("give a staging_url, or a braze_currents connection that holds one")
        self.staging_url = staging_url
        self.conn_id = conn_id
        self.currents_conn_id = currents_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {key.replace("-", "_"): value for key, value in CONNECTION_TYPE_INFO["ui-field-behaviour"].items()}

    @cached_property
    def staging(self) -> StagingArea:
        url, conn_id = self.staging_url, self.conn_id
        if not url:
            connection = self.get_connection(self.currents_conn_id)
            url = connection.host
            conn_id = conn_id or connection.extra_dejson.get("storage_conn_id") or None
        path = ObjectStoragePath(str(url), conn_id=conn_id)
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

    def test_connection(self) -> tuple[bool, str]:
        try:
            listing = self.list_files()
        except Exception as error:
            return False, str(error)
        return True, f"{len(listing.files)} staged file(s), {len(listing.unmatched)} key(s) matching no layout"
