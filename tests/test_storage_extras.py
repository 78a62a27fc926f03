"""Each storage extra makes its URLs usable: `[s3]`, `[gcs]` and `[azure]` install providers that register their
`ObjectStoragePath` filesystem under the Airflow they run with. A provider too old for it (the Amazon provider
8.9.0 under Airflow 3) fails here with "No filesystem registered for scheme s3"; the Airflow 2.11 suite runs
the locked lower bounds, the Airflow 3 suite the newest releases.

Nothing leaves the machine: the connections point at 127.0.0.1 or are anonymous, and no path is read.
"""

from __future__ import annotations

import importlib
import json

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

STORAGE = {
    "s3://staging/currents": (
        {"conn_type": "aws", "login": "AKIAIOSFODNN7EXAMPLE", "password": "example-secret",
         "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}},
        "s3fs.S3FileSystem",
    ),
    "gs://staging/currents": (
        {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": "braze-td-test"}},
        "gcsfs.GCSFileSystem",
    ),
    "abfs://staging/currents": (
        {"conn_type": "wasb", "extra": {"connection_string": (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;")}},
        "adlfs.AzureBlobFileSystem",
    ),
}


@pytest.mark.parametrize("url", sorted(STORAGE))
def test_each_storage_extra_registers_its_filesystem(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    connection, filesystem = STORAGE[url]
    conn_id = f"braze_td_{url.split(':')[0]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    module, name = filesystem.rsplit(".", 1)
    path = ObjectStoragePath(url, conn_id=conn_id)
    assert isinstance(path.fs, getattr(importlib.import_module(module), name))
    assert path.key == "currents"
