"""`stage_sample` must write what Braze writes: every file is read back with fastavro and checked."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import fastavro
import fsspec
import pendulum
import pytest

from airflow_braze_td.currents import catalog, sample
from airflow_braze_td.currents.layout import StagedFile, parse_key
from airflow_braze_td.currents.sample import stage_sample

END = pendulum.datetime(2025, 4, 1, 18, tz="UTC")
BRAZE_AVRO = Path(__file__).resolve().parents[2].parent / "shared" / "braze-samples" / "avro"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
BSON_ID = re.compile(r"^[0-9a-f]{24}$")


@dataclass
class ReadFile:
    staged: StagedFile
    schema: dict
    codec: str
    records: list[dict]


def read_tree(url: str) -> list[ReadFile]:
    """Every file under `url`, parsed as a key and decoded by fastavro, in canonical listing order."""
    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    out = []
    for path in fs.find(root):
        staged = parse_key(path[len(root) + 1:], size=fs.size(path))
        assert staged is not None, f"key matches no known layout: {path}"
        with fs.open(path, "rb") as f:
            reader = fastavro.reader(f)
            out.append(ReadFile(staged, reader.writer_schema, reader.codec, list(reader)))
    return sorted(out, key=lambda file: file.staged.sort_key)


def schema_fields(schema: dict) -> list[tuple[str, object, bool]]:
    return [(f["name"], f["type"], "default" in f) for f in schema["fields"]]


def forget_memory_tree(url: str) -> None:
    """Drop a memory-filesystem tree, which is process-wide; direct, as `rm` is slow on thousands of files."""
    fs, root = fsspec.core.url_to_fs(url)
    for path in [path for path in fs.store if path == root or path.startswith(root + "/")]:
        del fs.store[path]
    fs.pseudo_dirs[:] = [path for path in fs.pseudo_dirs if path != root and not path.startswith(root + "/")]


@pytest.fixture
def memory_url():
    """A fresh in-memory fsspec root, forgotten afterwards."""
    url = f"memory:///stage-sample-{uuid.uuid4().hex}"
    yield url
    forget_memory_tree(url)


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[dict, list[ReadFile]]:
    """One realistic export on the local disk: 20,000 events over 3 queue hours."""
    root = tmp_path_factory.mktemp("export")
    summary = stage_sample(str(root), events=20_000, hours=3, seed=11, end=END)
    return summary, read_tree(str(root))


def first_copies(files: list[ReadFile]) -> dict[str, tuple[ReadFile, dict]]:
    """Each distinct event with the file of its first copy."""
    seen: dict[str, tuple[ReadFile, dict]] = {}
    for file in files:
        for record in file.records:
            seen.setdefault(record["id"], (file, record))
    return seen


def test_every_key_parses_in_the_current_layout(export):
    summary, files = export
    assert len(files) == summary["files"]
    hours = {END.subtract(hours=h) for h in (3, 2, 1)}
    for file in files:
        staged = file.staged
        assert staged.layout == "current" and staged.schema_version == "10" and staged.environment == "us-01"
        assert staged.key.endswith(".avro") and staged.partition in range(sample.PARTITIONS)
        assert staged.queue_hour in hours
        assert file.schema["name"] == f"dataexport.S3.inner.{staged.event_type}"
        assert file.codec == "null" and file.records, "Braze never writes empty files"


def test_summary_counts_what_was_written(export):
    summary, files = export
    records = Counter()
    for file in files:
        records[file.staged.event_type] += len(file.records)
    assert summary["by_event_type"] == dict(records)
    assert summary["events"] == sum(records.values()) == summary["unique_ids"] + summary["duplicates"]
    assert summary["unique_ids"] == len(first_copies(files)) == 20_000
    assert summary["first_hour"] == "2025-04-01T15:00:00+00:00"
    assert summary["last_hour"] == "2025-04-01T17:00:00+00:00"


def test_offsets_run_on_per_type_and_partition(export):
    """Like Kafka offsets: each file starts where the previous file of its type and partition ended."""
    _, files = export
    runs: dict[tuple[str, int], list[ReadFile]] = defaultdict(list)
    for file in files:
        runs[file.staged.event_type, file.staged.partition].append(file)
    for run in runs.values():
        run.sort(key=lambda file: file.staged.offset)
        for before, after in zip(run, run[1:]):
            assert after.staged.offset == before.staged.offset + len(before.records)
            assert after.staged.queue_hour >= before.staged.queue_hour


def test_busy_types_get_several_files_of_varying_size_per_hour(export):
    _, files = export
    per_hour: dict[pendulum.DateTime, list[ReadFile]] = defaultdict(list)
    for file in files:
        if file.staged.event_type == "users.messages.email.Send":
            per_hour[file.staged.queue_hour].append(file)
    assert len(per_hour) == 3
    for hour_files in per_hour.values():
        assert len(hour_files) >= 12
        assert {file.staged.partition for file in hour_files} == {0, 1, 2}
        assert len({len(file.records) for file in hour_files}) > 3
    assert max(len(file.records) for file in files) <= sample.FILE_MAX_EVENTS


def test_event_mix_is_dominated_by_sends_deliveries_and_opens(export):
    summary, _ = export
    volumes = Counter(summary["by_event_type"])
    top = {event_type for event_type, _ in volumes.most_common(4)}
    assert top <= {"users.messages.email.Send", "users.messages.email.Delivery", "users.messages.email.Open",
                   "users.messages.pushnotification.Send"}
    assert volumes["users.behaviors.app.SessionStart"] > volumes["users.messages.email.Click"]
    assert volumes["users.behaviors.CustomEvent"] > volumes["users.behaviors.Purchase"] > 0
    assert volumes["users.behaviors.Purchase"] > volumes["users.messages.email.MarkAsSpam"]
    assert len(volumes) >= 60


def test_event_times_sit_in_or_just_before_the_queue_hour_and_two_percent_are_late(export):
    _, files = export
    late = 0
    events = first_copies(files)
    for file, record in events.values():
        hour = file.staged.queue_hour.int_timestamp
        assert isinstance(record["time"], int)
        assert hour - sample.LATE_MAX_SECONDS <= record["time"] < hour + 3600
        if record["time"] < hour - 900:
            late += 1
            assert file.staged.event_type.startswith(sample._SDK_PREFIXES), "only SDK events arrive late"
    assert 0.013 <= late / len(events) <= 0.027


def test_about_ten_percent_of_events_have_no_external_user_id(export):
    summary, files = export
    events = first_copies(files)
    without = sum(1 for _, record in events.values() if record.get("external_user_id") is None)
    assert without == summary["without_external_id"]
    assert 0.085 <= without / len(events) <= 0.115


def test_about_one_percent_are_redelivered_unchanged_into_a_later_file(export):
    summary, files = export
    copies: dict[str, list[tuple[ReadFile, dict]]] = defaultdict(list)
    for file in files:
        for record in file.records:
            copies[record["id"]].append((file, record))
    duplicated = {event_id: found for event_id, found in copies.items() if len(found) > 1}
    assert sum(len(found) - 1 for found in duplicated.values()) == summary["duplicates"]
    assert 0.007 <= summary["duplicates"] / summary["unique_ids"] <= 0.013
    for found in duplicated.values():
        (first_file, first), *later = sorted(found, key=lambda pair: pair[0].staged.offset)
        for file, record in later:
            assert record == first
            assert file.staged.event_type == first_file.staged.event_type
            assert file.staged.partition == first_file.staged.partition
            assert file.staged.offset > first_file.staged.offset


def test_values_have_braze_shapes(export):
    _, files = export
    seen = Counter()
    for file in files:
        event_type = file.staged.event_type
        for record in file.records:
            assert UUID4.match(record["id"])
            if isinstance(record.get("user_id"), str):
                assert BSON_ID.match(record["user_id"])
            if event_type == "users.behaviors.Purchase":
                assert isinstance(record["price"], float) and record["price"] > 0
                assert isinstance(json.loads(record["properties"]), dict)
                seen[event_type] += 1
            elif event_type == "users.behaviors.CustomEvent":
                assert record["name"] and isinstance(json.loads(record["properties"]), dict)
                seen[event_type] += 1
            elif event_type == "users.profile.Update":
                assert record["time_ms"] // 1000 == record["time"]
                seen[event_type] += 1
            elif event_type == "users.messages.email.Send":
                assert "@" in record["email_address"]
                assert (record["campaign_id"] is None) != (record["canvas_id"] is None)
                seen[event_type] += 1
    assert len(seen) == 4


def test_same_seed_same_bytes_and_another_seed_other_bytes(tmp_path):
    def tree(name: str, seed: int) -> dict[str, bytes]:
        root = tmp_path / name
        stage_sample(str(root), events=800, hours=1, seed=seed, end=END)
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    first = tree("a", 3)
    assert first == tree("b", 3)
    other = tree("c", 4)
    assert set(other.values()).isdisjoint(first.values())


@pytest.mark.parametrize("codec", sample.CODECS)
def test_every_codec_is_readable_and_holds_the_same_events(codec, memory_url):
    summary = stage_sample(memory_url, events=600, hours=1, seed=5, codec=codec, end=END)
    files = read_tree(memory_url)
    assert {file.codec for file in files} == {codec}
    assert sum(len(file.records) for file in files) == summary["events"]
    if codec != "null":
        plain_url = f"{memory_url}-null"
        stage_sample(plain_url, events=600, hours=1, seed=5, end=END)
        try:
            plain = read_tree(plain_url)
        finally:
            forget_memory_tree(plain_url)
        assert [file.records for file in files] == [file.records for file in plain]


def test_every_catalog_type_writes_valid_records(memory_url, monkeypatch):
    """With every type equally likely, each one is written, in its own schema, with all of its fields."""
    monkeypatch.setattr(sample, "_WEIGHTS", dict.fromkeys(catalog.EVENT_TYPES, 1.0))
    stage_sample(memory_url, events=25 * len(catalog.EVENT_TYPES), hours=1, seed=2, end=END)
    written: set[str] = set()
    for file in read_tree(memory_url):
        event_type = file.staged.event_type
        written.add(event_type)
        assert schema_fields(file.schema) == schema_fields(catalog.avro_schema(event_type))
        names = [field.name for field in catalog.fields(event_type)]
        required = [field.name for field in catalog.fields(event_type) if not field.nullable]
        for record in file.records:
            assert list(record) == names
            assert all(record[name] is not None for name in required)
    assert written == set(catalog.EVENT_TYPES)


def test_a_file_closes_at_the_event_limit(memory_url, monkeypatch):
    monkeypatch.setattr(sample, "FILE_MAX_EVENTS", 8)
    stage_sample(memory_url, events=1_500, hours=1, seed=1, end=END)
    sizes = [len(file.records) for file in read_tree(memory_url)]
    assert max(sizes) == 8


def test_default_end_is_the_current_hour(memory_url):
    before = pendulum.now("UTC").start_of("hour")
    summary = stage_sample(memory_url, events=50, hours=2)
    after = pendulum.now("UTC").start_of("hour")
    assert summary["last_hour"] in {before.subtract(hours=1).isoformat(), after.subtract(hours=1).isoformat()}
    assert pendulum.parse(summary["last_hour"]).diff(pendulum.parse(summary["first_hour"])).in_hours() == 1


@pytest.mark.parametrize(
    "kwargs", [{"codec": "lz4"}, {"codec": "bzip2"}, {"hours": 0}, {"events": -1}, {"event_types": []}]
)
def test_bad_arguments_are_refused(kwargs, memory_url):
    with pytest.raises(ValueError):
        stage_sample(memory_url, **kwargs)


def test_event_types_restrict_the_sample_to_few_files(memory_url):
    """A small tree for tests and demos: only the named types, in their usual proportions."""
    chosen = ["users.behaviors.Purchase", "users.messages.email.Send"]
    summary = stage_sample(memory_url, events=3_000, hours=2, seed=4, end=END, event_types=chosen)
    files = read_tree(memory_url)
    volumes = summary["by_event_type"]
    assert {file.staged.event_type for file in files} == set(volumes) == set(chosen)
    assert summary["unique_ids"] == len(first_copies(files)) == 3_000
    assert volumes["users.messages.email.Send"] > 5 * volumes["users.behaviors.Purchase"]
    assert len(files) == summary["files"] < 150
    late = [record for file, record in first_copies(files).values()
            if record["time"] < file.staged.queue_hour.int_timestamp - 900]
    assert late and all("product_id" in record for record in late), "Purchase is the only SDK type here"


def test_event_types_in_another_order_give_the_same_bytes(memory_url):
    def tree(url: str) -> dict[str, bytes]:
        fs, root = fsspec.core.url_to_fs(url)
        return {path[len(root):]: fs.cat_file(path) for path in fs.find(root)}

    chosen = ["users.behaviors.CustomEvent", "users.profile.Update", "users.canvas.Entry"]
    other = f"{memory_url}-reversed"
    try:
        stage_sample(memory_url, events=400, hours=1, seed=8, end=END, event_types=chosen)
        stage_sample(other, events=400, hours=1, seed=8, end=END, event_types=chosen[::-1])
        first, second = tree(memory_url), tree(other)
    finally:
        forget_memory_tree(other)
    assert first and first == second


def test_unknown_event_types_are_refused_by_name(memory_url):
    with pytest.raises(ValueError, match=r"users\.messages\.pigeon\.Send"):
        stage_sample(memory_url, events=10, event_types=["users.behaviors.Purchase", "users.messages.pigeon.Send"])


def test_hundred_thousand_events_smoke(memory_url):
    """Volume run, kept as a smoke test: it asserts consistency, never time."""
    summary = stage_sample(memory_url, events=100_000, seed=9, end=END)
    assert summary["unique_ids"] == 100_000
    assert summary["events"] == sum(summary["by_event_type"].values()) == 100_000 + summary["duplicates"]
    assert summary["files"] == len(fsspec.filesystem("memory").find(fsspec.core.url_to_fs(memory_url)[1]))


def test_catalog_matches_braze_published_samples():
    """Names, types, nullability and order of every field, for every type Braze publishes a sample of."""
    if not BRAZE_AVRO.is_dir():
        pytest.skip(f"Braze samples not available at {BRAZE_AVRO}")
    sample_types = set()
    for path in sorted(BRAZE_AVRO.glob("*.avro")):
        event_type = path.stem
        sample_types.add(event_type)
        with path.open("rb") as f:
            braze = fastavro.reader(f).writer_schema
        ours = catalog.avro_schema(event_type)
        assert ours["name"] == braze["name"] == f"dataexport.S3.inner.{event_type}"
        assert schema_fields(ours) == schema_fields(braze), event_type
    assert sample_types <= set(catalog.EVENT_TYPES)


def test_catalog_refuses_unknown_types():
    with pytest.raises(KeyError):
        catalog.fields("users.messages.pigeon.Send")
