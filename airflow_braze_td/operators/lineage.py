"""What the delivery operator tells Airflow about the data it moved: an Asset event per TD table it wrote (through
an asset alias, since the tables are known only at run time), the "Treasure Data table" link's target, and
OpenLineage datasets when the OpenLineage provider is installed (imported only then).

Asset URIs are `treasuredata://<region>/<database>/<table>`: a scheme Airflow accepts as it is (no normaliser
needed), so a downstream DAG is scheduled on `Asset("treasuredata://us01/braze/currents_events")`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_braze_td.treasure_data.endpoints import console_url

ASSET_SCHEME = "treasuredata"
# The alias every delivery task declares as its outlet; the tables written become Asset events through it.
TABLES_ALIAS = "braze_td_treasure_data_tables"


def table_asset_uri(region: str, database: str, table: str) -> str:
    return f"{ASSET_SCHEME}://{region}/{database}/{table}"


@dataclass(frozen=True)
class WrittenTables:
    """The TD tables one delivery wrote, where, and from which staging prefix."""

    staging_url: str
    region: str
    database: str
    tables: tuple[str, ...]

    @property
    def asset_uris(self) -> list[str]:
        return [table_asset_uri(self.region, self.database, table) for table in self.tables]

    def to_xcom(self) -> dict:
        """For the "Treasure Data table" link: one table's page, or the database's when there are several."""
        only = self.tables[0] if len(self.tables) == 1 else None
        return {**asdict(self), "tables": list(self.tables), "console_url": console_url(self.region, self.database, only)}


def staging_dataset_name(staging_url: str) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of a staging prefix: `s3://bucket` and the key prefix, or `file` and a path."""
    parts = urlsplit(staging_url)
    if parts.scheme and parts.scheme != "file" and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}", parts.path.strip("/") or "/"
    return "file", parts.path if parts.scheme == "file" else staging_url


def openlineage_facets(written: WrittenTables | None) -> Any:
    """`OperatorLineage` with the staging prefix as input and each TD table as output (empty before any write)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    if written is None:
        return OperatorLineage()
    namespace, name = staging_dataset_name(written.staging_url)
    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=name)],
        outputs=[Dataset(namespace=f"{ASSET_SCHEME}://{written.region}", name=f"{written.database}.{table}")
                 for table in written.tables],
    )
