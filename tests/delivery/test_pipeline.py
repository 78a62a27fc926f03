"""The delivery core end to end against the real emulator: exactly once, resumable, claimed, quarantined."""

from __future__ import annotations

import pytest

from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.filters import EventFilter
from airflow_braze_td.delivery.pipeline import Delivery, DeliverySettings
from airflow_braze_td.emulator import Fault
from tests.delivery.conftest import delivered_ids, eligible_ids, ledger_in, sink_for


def deliver(root, emu, tmp_path, mode: str, owner: str = "run-1", **settings):
    area = StagingArea.from_url(str(root))
    delivery = Delivery(area, sink_for(emu, mode), ledger_in(tmp_path),
                        DeliverySettings(target=f"{mode}:braze", **settings), owner)
    return delivery.run(area.list().files)


@pytest.mark.parametrize("mode", ["postback", "import", "ingest"])
def test_every_eligible_event_lands_exactly_once_and_a_rerun_adds_nothing(staged_tree, emulator, tmp_path, mode):
    root, staged = staged_tree
    summary = deliver(root, emulator, tmp_path, mode)
    truth = eligible_ids(root)
    landed = delivered_ids(emulator)
    assert landed == truth
    assert summary.events_read == staged["events"]
    assert summary.events_sent == len(truth)
    assert summary.filtered["no_external_user_id"] > 0 and summary.duplicates > 0
    assert summary.events_read == (summary.events_sent + summary.duplicates + sum(summary.filtered.values())
                                   + summary.quarantined)
    again = deliver(root, emulator, tmp_path, mode, owner="run-2")
    assert again.events_sent == 0 and again.files_already_delivered == staged["files"]
    assert delivered_ids(emulator) == truth


def test_store_then_fail_mid_run_is_deduplicated_by_the_import_api(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    emulator.push_faults(*[Fault(store_then_status=500, kind="store_then_500", path_prefix="/v3/table/import") for _ in range(3)])
    summary = deliver(root, emulator, tmp_path, "import")
    assert sum(emulator.fault_counts().values()) == 3
    assert summary.retries >= 2
    assert delivered_ids(emulator) == eligible_ids(root)


def test_claimed_files_are_left_to_their_owner(staged_tree, emulator, tmp_path):
    root, staged = staged_tree
    area = StagingArea.from_url(str(root))
    ledger = ledger_in(tmp_path)
    files = area.list().files
    claimed, token = ledger.claim_files([files[0]], "other-run", ttl=600)
    assert claimed == [files[0]]
    summary = deliver(root, emulator, tmp_path, "import")
    assert summary.files_claimed_elsewhere == 1 and summary.files == staged["files"] - 1
    ledger.release_claim(token)
    assert deliver(root, emulator, tmp_path, "import", owner="run-3").files == 1


def test_event_type_filter_and_window(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    summary = deliver(root, emulator, tmp_path, "import",
                      event_filter=EventFilter(event_types=("users.messages.email.*",), since=0, until=1))
    assert summary.events_sent == 0
    assert summary.filtered["event_type"] > 0 and summary.filtered["window"] > 0


def test_replay_sends_again_under_new_batch_identities(staged_tree, emulator, tmp_path):
    root, _ = staged_tree
    first = deliver(root, emulator, tmp_path, "import")
    replay = deliver(root, emulator, tmp_path, "import", owner="replay-run", generation="replay-1")
    assert replay.events_sent == first.events_sent
    landed = delivered_ids(emulator)
    assert set(landed.values()) == {2}
    resumed = deliver(root, emulator, tmp_path, "import", owner="replay-run", generation="replay-1")
    assert resumed.events_sent == 0
    assert list(ledger_in(tmp_path).fs.find(str(tmp_path / "ledger" / "replays")))
