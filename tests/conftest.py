"""Shared test helpers: real Avro files written with fastavro, and the optional Braze samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fastavro
import pytest

from airflow_braze_td.emulator import Emulator

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BRAZE_SAMPLES = SHARED / "braze-samples"

OPEN_SCHEMA = {
    "type": "record",
    "name": "dataexport.S3.inner.users.messages.email.Open",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "user_id", "type": "string"},
        {"name": "external_user_id", "type": ["null", "string"], "default": None},
        {"name": "time", "type": "int"},
        {"name": "timezone", "type": ["null", "string"], "default": None},
        {"name": "campaign_name", "type": ["null", "string"], "default": None},
        {"name": "email_address", "type": "string"},
    ],
}


def open_record(number: int, *, external: bool = True) -> dict:
    return {
        "id": f"00000000-0000-4000-8000-{number:012d}",
        "user_id": f"user{number}",
        "external_user_id": f"ext{number}" if external else None,
        "time": 1_764_500_000 + number,
        "timezone": "Europe/Paris",
        "campaign_name": "spring",
        "email_address": f"u{number}@example.com",
    }


def write_avro(path: Path, records: list[dict], *, schema: dict = OPEN_SCHEMA, codec: str = "null") -> Path:
    """A real Avro object container file, several blocks long so truncation lands mid-file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        fastavro.writer(out, fastavro.parse_schema(schema), records, codec=codec, sync_interval=2_000)
    return path


@pytest.fixture
def braze_samples() -> Path:
    if not BRAZE_SAMPLES.is_dir():
        pytest.skip("../shared/braze-samples is not beside the project")
    return BRAZE_SAMPLES


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The TD emulator on 127.0.0.1; with no key configured it accepts any key of TD's form."""
    with Emulator() as running:
        yield running


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    """The same emulator, under the short name the emulator and client tests use."""
    return emulator
