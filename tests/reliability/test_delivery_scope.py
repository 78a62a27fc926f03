"""What a delivery is about: its last error belongs to its event-type group, and its batches to the
destination the connection resolves, not to the operator's raw arguments."""

from __future__ import annotations

from collections import Counter

import pytest

from airflow.providers.common.compat.sdk import AirflowFailException
from airflow_braze_td.emulator import Fault
from airflow_braze_td.triggers.delivery_lag import DeliveryLagTrigger
from tests.conftest import open_record, write_avro
from tests.reliability.conftest import (
    GOOD_AFTER, KEY, OPEN, World, client_for, ids_of, key_of, landed_ids, operator_for, run_context,
)

CLICK = "users.messages.email.Click"


def test_a_group_that_succeeds_keeps_another_groups_error_for_the_lag_sensor(world: World, connect) -> None:
    """Mapped over two groups: Open's table is missing, Click's exists; the sensor still names Open's table."""
    write_avro(world.staging_dir / key_of(3, event_type=CLICK), [open_record(n) for n in range(200, 210)])
    client_for(world.emulator.url).ensure_table("braze", "events_users_messages_email_click")
    connect(host=world.emulator.url, password=KEY)
    options = {"mode": "import", "table": "events_{event_type}", "create_table": False}
    with pytest.raises(AirflowFailException, match="no table braze.events_users_messages_email_open"):
        operator_for(world, event_types=[OPEN], **options).execute(run_context())
    operator_for(world, event_types=[CLICK], **options).execute(run_context())
    assert set(landed_ids(world.emulator)) == set(ids_of(range(200, 210)))

    check = DeliveryLagTrigger(str(world.staging_dir), str(world.ledger_dir), loss_window_hours=4,
                               fail_margin_hours=2).check()
    assert check.status == "failed"
    assert f"Last delivery error of {OPEN} (import to braze.events_{{event_type}} via" in check.message
    assert "no table braze.events_users_messages_email_open" in check.message

    client_for(world.emulator.url).ensure_table("braze", "events_users_messages_email_open")
    operator_for(world, event_types=[OPEN], **options).execute(run_context())
    assert world.ledger.last_errors() == []


def test_a_connection_repointed_to_another_database_gets_every_batch_of_an_unfinished_file(world: World,
                                                                                            connect) -> None:
    """A run stopped after two acknowledged batches; the connection's default database then changes. The
    resumed file's batches all go to the new database: none is skipped as acknowledged by the old one."""
    numbers = range(1_000, 1_500)
    write_avro(world.staging_dir / key_of(2), [open_record(n) for n in numbers])  # 5 postback batches
    connect(host=world.emulator.url, password=KEY, extra={"database": "braze"})
    world.emulator.push_faults(Fault(path_prefix="/postback"), Fault(path_prefix="/postback"),
                               Fault.http(401, path_prefix="/postback"))
    options = {"database": None, "table": "currents", "create_table": True, "event_types": [OPEN]}
    with pytest.raises(AirflowFailException, match="HTTP 401"):
        operator_for(world, **options).execute(run_context())
    assert 0 < len(set(landed_ids(world.emulator, "braze")) & set(ids_of(numbers))) < len(numbers)

    connect(host=world.emulator.url, password=KEY, extra={"database": "braze_new"})
    operator_for(world, **options).execute(run_context())
    # The file before it finished in the first run, in `braze`; the unfinished bundle (this file and the one
    # after it) goes whole to `braze_new`.
    assert landed_ids(world.emulator, "braze_new") == Counter(ids_of(numbers) + ids_of(GOOD_AFTER))
