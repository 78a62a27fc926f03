"""What TD stores in postback mode is byte for byte what Braze's own TD export posts.

Braze's published Avro samples are staged under real keys, delivered through the pipeline into the
emulator, and each stored body is compared with the envelope of the sample's Custom HTTP twin (compact
JSON, keys sorted as in Braze's samples). Twins that carry or lack single optional fields (listed in
the conformance test) are compared with those fields left out of both sides.
"""

from __future__ import annotations

import shutil

import orjson
import pendulum

from airflow_braze_td.currents.layout import staged_key
from airflow_braze_td.currents.staging import StagingArea
from airflow_braze_td.delivery.filters import EventFilter
from airflow_braze_td.delivery.pipeline import Delivery
from airflow_braze_td.delivery.settings import DeliverySettings
from tests.currents.test_conformance import AVRO_ONLY_TYPES, PRESENT_ON_ONE_SIDE_ONLY, _twin
from tests.delivery.conftest import ledger_in, sink_for


def _without(event: dict, fields: set[str]) -> dict:
    for path in fields:
        section, name = path.split(".", 1)
        event[section].pop(name, None)
    return event


def test_stored_postback_bodies_equal_brazes_own_envelopes(braze_samples, emulator, tmp_path):
    hour = pendulum.datetime(2026, 11, 30, 9, tz="UTC")
    staging = tmp_path / "staging"
    types = []
    for number, avro in enumerate(sorted((braze_samples / "avro").glob("*.avro"))):
        event_type = avro.name.removesuffix(".avro")
        if event_type in AVRO_ONLY_TYPES:
            continue
        types.append(event_type)
        key = staged_key(event_type=event_type, queue_hour=hour, partition=0, offset=number)
        (staging / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(avro, staging / key)
    area = StagingArea.from_url(str(staging))
    settings = DeliverySettings(event_filter=EventFilter(require_external_user_id=False))
    summary = Delivery(area, sink_for(emulator, "postback"), ledger_in(tmp_path), settings, "run").run(
        area.list().files)
    assert summary.events_sent == len(types) == 90
    bodies = emulator.postback_bodies("braze", "currents")
    stored = {orjson.loads(body)["events"][0]["event_type"]: body for body in bodies}
    exact = 0
    for event_type in types:
        twin = orjson.loads(_twin(braze_samples, event_type).read_bytes())
        differing = PRESENT_ON_ONE_SIDE_ONLY.get(event_type)
        if differing is None:
            expected = b'{"events":[' + orjson.dumps(twin, option=orjson.OPT_SORT_KEYS) + b"]}"
            assert stored[event_type] == expected, event_type
            exact += 1
        else:
            ours = orjson.loads(stored[event_type])["events"][0]
            assert _without(ours, differing) == _without(twin, differing), event_type
    assert exact >= 20
