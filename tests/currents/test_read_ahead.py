"""Reading fetches the next files while one is decoded: several GETs in flight, bounded in bytes, the same
events as reading each file on its own."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import READ_AHEAD_FILES, StagingArea
from tests.conftest import open_record, write_avro
from tests.reliability.conftest import HOUR, OPEN


class SlowStorage(LocalFileSystem):
    """A local disk whose every open takes `delay` seconds, as a GET on object storage does; it keeps the
    most opens in progress at once, and the opens made by streaming (not fetching whole)."""

    cachable = False  # fsspec would hand every test the same instance, counters included

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.opening = self.most_opening = 0
        self.streamed: list[str] = []
        self._lock = threading.Lock()

    def _open(self, path, mode="rb", *args, **kwargs):
        with self._lock:
            self.opening += 1
            self.most_opening = max(self.most_opening, self.opening)
        try:
            time.sleep(self.delay)
            return super()._open(path, mode, *args, **kwargs)
        finally:
            with self._lock:
                self.opening -= 1

    def open(self, path, mode="rb", **kwargs):
        if not threading.current_thread().name.startswith("read-ahead"):
            self.streamed.append(path)
        return super().open(path, mode, **kwargs)


def stage(root: Path, files: int, events_per_file: int = 20) -> None:
    for number in range(files):
        key = staged_key(event_type=OPEN, queue_hour=HOUR, partition=0, offset=number)
        write_avro(root / key, [open_record(number * 1000 + n) for n in range(events_per_file)])


@pytest.mark.parametrize("max_files", [1, 8])
def test_the_next_files_are_fetched_while_one_is_read_and_the_events_are_the_same(tmp_path: Path,
                                                                                  max_files: int) -> None:
    stage(tmp_path, 24)
    area = StagingArea(SlowStorage(0.05), str(tmp_path))
    files = area.list().files
    expected = [list(StagingArea(LocalFileSystem(), str(tmp_path)).iter_events(staged)) for staged in files]
    with ThreadPoolExecutor(max_files, thread_name_prefix="read-ahead") as pool:
        read = [(staged, list(events)) for staged, events in area.read_ahead(files, pool, max_files=max_files)]
    assert [staged for staged, _ in read] == files
    assert [events for _, events in read] == expected
    assert area.fs.most_opening == max_files
    assert area.fs.streamed == []


def test_bytes_held_ahead_are_bounded_and_a_file_too_big_to_hold_is_streamed(tmp_path: Path) -> None:
    stage(tmp_path, 12)
    big = staged_key(event_type=OPEN, queue_hour=HOUR, partition=0, offset=99)
    write_avro(tmp_path / big, [open_record(99_000 + n) for n in range(2_000)])
    area = StagingArea(SlowStorage(0.05), str(tmp_path))
    files = area.list().files
    small = max(staged.size for staged in files if staged.key != big)
    with ThreadPoolExecutor(8, thread_name_prefix="read-ahead") as pool:
        read = [(staged.key, sum(1 for _ in events))
                for staged, events in area.read_ahead(files, pool, max_files=8, max_bytes=3 * small)]
    assert area.fs.most_opening == 3
    assert area.fs.streamed == [f"{tmp_path}/{big}"]
    assert dict(read)[big] == 2_000 and len(read) == 13


class ThreadRecordingDisk(LocalFileSystem):
    """A local disk that records the thread of every open."""

    cachable = False

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def _open(self, path, mode="rb", *args, **kwargs):
        self.threads.add(threading.current_thread().name)
        return super()._open(path, mode, *args, **kwargs)


def test_a_local_disk_is_read_in_the_reading_thread_with_no_handoff_per_file(tmp_path: Path) -> None:
    stage(tmp_path, 6)
    disk = ThreadRecordingDisk()
    area = StagingArea(disk, str(tmp_path))
    files = area.list().files
    expected = [list(StagingArea(LocalFileSystem(), str(tmp_path)).iter_events(staged)) for staged in files]
    with ThreadPoolExecutor(4, thread_name_prefix="read-ahead") as pool:
        read = [list(events) for _, events in area.read_ahead(files, pool)]
    assert area.read_ahead_files == 0
    assert read == expected
    assert disk.threads == {threading.current_thread().name}
    assert StagingArea(MemoryFileSystem(), "/staging").read_ahead_files == READ_AHEAD_FILES  # object storage
    with pytest.raises(ValueError, match="read_ahead_files must be 0 or more"):
        StagingArea(disk, str(tmp_path), read_ahead_files=-1)
