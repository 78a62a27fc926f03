"""Key layouts: the three Braze layouts parse, anything else is reported."""

from __future__ import annotations

import hashlib
import logging

import pendulum
import pytest

from airflow_braze_td.currents.events import EventTypeSelector
from airflow_braze_td.currents.layout import StagedFile, folder_event_type, parse_key, staged_key
from airflow_braze_td.currents.staging import StagingArea, StagingNotFoundError

CURRENT = (
    "currents/dataexport.prod-01.S3.integration.69cadaaed2d51b7c75b1a3e5/event_type=users.messages.pushnotification.Send/"
    "date=2025-04-01-17/version=6/us-01/dataexport.prod-01.S3.integration.69cadaaed2d51b7c75b1a3e5+0+123456.avro"
)
LEGACY = (
    "dataexport.prod-03.GCS.integration.5a1b/event_type=users.behaviors.CustomEvent/date=2020-01-02-03/"
    "321/eu-01/dataexport.prod-03.GCS.integration.5a1b+2+77.avro"
)
OLDEST = (
    "dataexport.S3.integration.5a1b/event_type=users.message.email.Open/date=2018-06-30-23/"
    "12/us-01/dataexport.S3.integration.5a1b+1+0000001234.avro"
)


def test_current_layout() -> None:
    staged = parse_key(CURRENT, size=10, etag="abc")
    assert staged is not None
    assert staged.layout == "current"
    assert staged.event_type == "users.messages.pushnotification.Send"
    assert staged.queue_hour == pendulum.datetime(2025, 4, 1, 17, tz="UTC")
    assert (staged.schema_version, staged.environment) == ("6", "us-01")
    assert (staged.partition, staged.offset, staged.size, staged.etag) == (0, 123456, 10, "abc")
    assert staged.format == "avro"


def test_legacy_layout() -> None:
    staged = parse_key(LEGACY)
    assert staged is not None
    assert (staged.layout, staged.schema_version, staged.environment) == ("legacy", "321", "eu-01")
    assert (staged.partition, staged.offset) == (2, 77)


def test_oldest_layout_without_cluster_and_singular_spelling() -> None:
    staged = parse_key(OLDEST)
    assert staged is not None
    assert staged.layout == "oldest"
    assert staged.event_type == "users.messages.email.Open"
    assert staged.offset == 1234


@pytest.mark.parametrize(
    "key",
    [
        "notes/readme.txt",
        "dataexport.prod-01.S3.integration.1/event_type=x/date=2025-13-01-00/version=1/us/dataexport.prod-01.S3.integration.1+0+1.avro",
        "dataexport.prod-01.S3.integration.1/event_type=x/date=2025-01-01/version=1/us/dataexport.prod-01.S3.integration.1+0+1.avro",
        "dataexport.prod-01.S3.integration.1/event_type=x/date=2025-01-01-00/version=1/us/file.avro",
    ],
)
def test_unknown_keys_do_not_parse(key: str) -> None:
    assert parse_key(key) is None


def test_generated_key_round_trips() -> None:
    hour = pendulum.datetime(2026, 11, 30, 5, tz="UTC")
    key = staged_key(event_type="users.behaviors.Purchase", queue_hour=hour, partition=1, offset=42)
    staged = parse_key(key)
    assert staged is not None and staged.queue_hour == hour and staged.event_type == "users.behaviors.Purchase"
    assert StagedFile.from_dict(staged.to_dict()) == staged


def test_identity_changes_when_an_object_is_rewritten() -> None:
    first = parse_key(CURRENT, size=10, etag="a")
    rewritten = parse_key(CURRENT, size=11, etag="b")
    assert first is not None and rewritten is not None
    assert first.identity != rewritten.identity
    assert first.identity == parse_key(CURRENT, size=10, etag="a").identity


def test_listing_reports_unmatched_keys(tmp_path, caplog) -> None:
    for key in (CURRENT, LEGACY, "stray/notes.txt", "currents/_SUCCESS"):
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 5)
    with caplog.at_level(logging.WARNING):
        listing = StagingArea.from_url(str(tmp_path)).list()
    assert sorted(staged.layout for staged in listing.files) == ["current", "legacy"]
    assert listing.unmatched == ["currents/_SUCCESS", "stray/notes.txt"]
    assert "2 object(s)" in caplog.text and "stray/notes.txt" in caplog.text
    assert all(staged.size == 5 and staged.mtime for staged in listing.files)


def test_a_listing_for_some_event_types_keeps_only_their_files_and_still_reports_stray_keys(tmp_path) -> None:
    hour = pendulum.datetime(2026, 11, 30, 9, tz="UTC")
    types = ("users.messages.email.Open", "users.messages.email.Send", "users.behaviors.CustomEvent")
    for offset, event_type in enumerate(types * 2):
        path = tmp_path / staged_key(event_type=event_type, queue_hour=hour, partition=0, offset=offset)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / "stray.txt").write_bytes(b"x")
    area = StagingArea.from_url(str(tmp_path))
    every = area.list()
    email = area.list(EventTypeSelector(["users.messages.email.*"]))
    assert email.files == [staged for staged in every.files if staged.event_type.startswith("users.messages.email.")]
    assert len(email.files) == 4 and email.unmatched == every.unmatched == ["stray.txt"]


def test_a_listing_finds_files_at_any_depth_under_the_prefix(tmp_path) -> None:
    hour = pendulum.datetime(2026, 11, 30, 9, tz="UTC")
    keys = [f"{folder}{staged_key(event_type='users.behaviors.Purchase', queue_hour=hour, partition=0, offset=1)}"
            for folder in ("", "currents/", "a/b/", "a/b/c/d/e/")]
    for key in [*keys, "a/b/c/d/notes.txt"]:
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    listing = StagingArea.from_url(str(tmp_path)).list()
    assert sorted(staged.key for staged in listing.files) == sorted(keys)
    assert listing.unmatched == ["a/b/c/d/notes.txt"]


def test_an_event_type_folder_names_the_event_type_its_keys_parse_to() -> None:
    hour = pendulum.datetime(2026, 11, 30, 9, tz="UTC")
    key = staged_key(event_type="users.behaviors.CustomEvent", queue_hour=hour, partition=0, offset=1)
    folder = next(part for part in key.split("/") if part.startswith("event_type="))
    staged = parse_key(key)
    assert staged is not None and folder_event_type(folder) == staged.event_type == "users.behaviors.CustomEvent"
    assert folder_event_type("date=2026-11-30-09") is None and folder_event_type("currents") is None


def test_listing_a_missing_prefix_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(StagingNotFoundError, match="does not exist"):
        StagingArea.from_url(str(tmp_path / "nowhere")).list()


def test_identity_and_queue_hour_timestamp_are_computed_once_and_kept_out_of_equality() -> None:
    staged = parse_key(CURRENT, size=10, etag="abc")
    assert staged is not None
    assert staged.identity == hashlib.sha256(f"{CURRENT}\0{10}\0abc".encode()).hexdigest()[:32]
    assert staged.identity is staged.identity
    assert staged.queue_hour_timestamp == staged.queue_hour.int_timestamp
    assert "identity" not in staged.to_dict() and "queue_hour_timestamp" not in staged.to_dict()
    copy = StagedFile.from_dict(staged.to_dict())
    assert copy == staged and hash(copy) == hash(staged) and copy.identity == staged.identity
    assert copy.queue_hour_timestamp == staged.queue_hour_timestamp
    assert "identity" not in repr(staged)


def test_staged_files_are_slotted_and_share_their_repeated_strings() -> None:
    """A listing holds one `StagedFile` per object: no instance dict, and one copy of what the files repeat."""
    hour = pendulum.datetime(2026, 11, 30, 5, tz="UTC")
    first, second = (parse_key(staged_key(event_type="users.behaviors.Purchase", queue_hour=hour, partition=1,
                                          offset=offset)) for offset in (1, 2))
    assert first is not None and second is not None
    assert not hasattr(first, "__dict__")
    for name in ("event_type", "queue_hour", "schema_version", "environment", "queue_hour_timestamp"):
        assert getattr(first, name) is getattr(second, name), name


def test_listing_is_in_queue_hour_order_whatever_order_storage_lists_in(tmp_path) -> None:
    hours = [pendulum.datetime(2026, 11, 30, hour, tz="UTC") for hour in (5, 3, 4)]
    for hour in hours:
        for event_type in ("users.messages.email.Send", "users.behaviors.Purchase"):
            for offset in (30, 4, 200):
                key = staged_key(event_type=event_type, queue_hour=hour, partition=offset % 2, offset=offset)
                path = tmp_path / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"x")
    listing = StagingArea.from_url(str(tmp_path)).list()
    assert len(listing.files) == 18
    assert listing.files == sorted(listing.files, key=lambda staged: staged.sort_key)
