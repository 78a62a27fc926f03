"""Conformance: every Avro sample Braze publishes normalises to its Custom HTTP twin.

Both sides go through the project's own readers (the twin is a pretty-printed bare JSON event). The
differences below are the samples' own: each twin was written by hand and carries or lacks single
optional fields. Each listed field may be present on one side only; everything else must be equal.
The two documented rules (`properties` JSON strings becoming objects, the banner rename) and float32
precision are not listed: the normalisation applies them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_braze_td.currents.decode import iter_events

PRESENT_ON_ONE_SIDE_ONLY = {
    "users.behaviors.InstallAttribution": {'user.device_id'},
    "users.behaviors.liveactivity.PushToStartTokenChange": {'properties.sdk_version'},
    "users.behaviors.liveactivity.UpdateTokenChange": {'properties.sdk_version'},
    "users.behaviors.pushnotification.TokenStateChange": {'properties.sdk_version'},
    "users.behaviors.subscription.GlobalStateChange": {'properties.message_variation_name'},
    "users.behaviors.subscriptiongroup.StateChange": {'user.device_id'},
    "users.campaigns.Conversion": {'user.device_id', 'properties.dispatch_id'},
    "users.campaigns.EnrollInControl": {'user.device_id', 'properties.dispatch_id'},
    "users.canvas.Conversion": {'user.device_id'},
    "users.canvas.Entry": {'user.device_id'},
    "users.messages.banner.Abort": {'properties.carrier', 'properties.country', 'properties.gender', 'properties.language', 'properties.resolution', 'properties.sdk_version'},
    "users.messages.banner.Click": {'properties.carrier', 'properties.country', 'properties.gender', 'properties.language', 'properties.resolution', 'properties.sdk_version'},
    "users.messages.banner.Impression": {'properties.carrier', 'properties.country', 'properties.gender', 'properties.language', 'properties.resolution', 'properties.sdk_version'},
    "users.messages.contentcard.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.contentcard.Click": {'properties.dispatch_id'},
    "users.messages.contentcard.Dismiss": {'properties.dispatch_id'},
    "users.messages.contentcard.Impression": {'properties.dispatch_id'},
    "users.messages.contentcard.Send": {'properties.dispatch_id'},
    "users.messages.email.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.email.Bounce": {'user.device_id'},
    "users.messages.email.Click": {'user.device_id'},
    "users.messages.email.Deferral": {'properties.canvas_step_message_variation_id'},
    "users.messages.email.Delivery": {'user.device_id'},
    "users.messages.email.MarkAsSpam": {'user.device_id'},
    "users.messages.email.Open": {'user.device_id'},
    "users.messages.email.Retry": {'properties.canvas_step_message_variation_id', 'properties.country', 'properties.gender', 'properties.language'},
    "users.messages.email.Send": {'user.device_id', 'properties.from_domain'},
    "users.messages.email.SoftBounce": {'user.device_id'},
    "users.messages.email.Unsubscribe": {'user.device_id'},
    "users.messages.featureflag.Impression": {'properties.canvas_step_message_variation_id', 'properties.carrier', 'properties.country', 'properties.gender', 'properties.language', 'properties.resolution', 'properties.sdk_version'},
    "users.messages.inappmessage.Abort": {'properties.browser', 'properties.canvas_step_message_variation_id', 'properties.carrier', 'properties.resolution', 'properties.version'},
    "users.messages.inappmessage.Click": {'properties.dispatch_id'},
    "users.messages.inappmessage.Impression": {'properties.dispatch_id'},
    "users.messages.line.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.line.Click": {'properties.canvas_step_message_variation_id'},
    "users.messages.line.InboundReceive": {'properties.canvas_step_message_variation_id'},
    "users.messages.line.Retry": {'properties.canvas_step_message_variation_id'},
    "users.messages.line.Send": {'properties.canvas_step_message_variation_id'},
    "users.messages.pushnotification.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.pushnotification.IosForeground": {'properties.device_model', 'properties.os_version'},
    "users.messages.pushnotification.Open": {'properties.canvas_step_message_variation_id'},
    "users.messages.pushnotification.Retry": {'properties.canvas_step_message_variation_id', 'properties.country', 'properties.gender', 'properties.language'},
    "users.messages.rcs.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.rcs.Click": {'properties.canvas_step_message_variation_id'},
    "users.messages.rcs.Delivery": {'properties.canvas_step_message_variation_id'},
    "users.messages.rcs.InboundReceive": {'properties.canvas_step_message_variation_id'},
    "users.messages.rcs.Read": {'properties.canvas_step_message_variation_id'},
    "users.messages.rcs.Rejection": {'properties.canvas_step_message_variation_id'},
    "users.messages.rcs.Send": {'properties.canvas_step_message_variation_id'},
    "users.messages.sms.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.sms.CarrierSend": {'user.device_id'},
    "users.messages.sms.Delivery": {'user.device_id'},
    "users.messages.sms.DeliveryFailure": {'user.device_id'},
    "users.messages.sms.Rejection": {'user.device_id'},
    "users.messages.sms.Retry": {'properties.canvas_step_message_variation_id'},
    "users.messages.sms.Send": {'user.device_id'},
    "users.messages.sms.ShortLinkClick": {'user.device_id'},
    "users.messages.webhook.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.webhook.Failure": {'properties.canvas_step_message_variation_id'},
    "users.messages.webhook.Retry": {'properties.canvas_step_message_variation_id', 'properties.country', 'properties.gender', 'properties.language'},
    "users.messages.webhook.Send": {'user.device_id'},
    "users.messages.whatsapp.Abort": {'properties.canvas_step_message_variation_id'},
    "users.messages.whatsapp.Click": {'properties.canvas_step_message_variation_id'},
    "users.messages.whatsapp.Delivery": {'properties.canvas_step_message_variation_id'},
    "users.messages.whatsapp.Failure": {'properties.canvas_step_message_variation_id'},
    "users.messages.whatsapp.InboundReceive": {'properties.canvas_step_message_variation_id'},
    "users.messages.whatsapp.Read": {'properties.canvas_step_message_variation_id'},
    "users.messages.whatsapp.Retry": {'properties.canvas_step_message_variation_id'},
    "users.messages.whatsapp.Send": {'properties.canvas_step_message_variation_id', 'properties.canvas_variation_name'},
}
AVRO_ONLY_TYPES = {"users.RandomBucketNumberUpdate", "users.UserDeleteRequest", "users.UserOrphan", "users.profile.Update"}


def _twin(samples: Path, event_type: str) -> Path:
    rest = event_type.removeprefix("users.")
    return samples / "custom-http" / "users" / (rest.replace(".", "/") + ".json")


def _read_one(path: Path) -> dict:
    with path.open("rb") as stream:
        events = list(iter_events(stream, path.name))
    assert len(events) == 1 and isinstance(events[0], dict), events
    return events[0]


def test_every_avro_sample_matches_its_custom_http_twin(braze_samples: Path) -> None:
    pairs = 0
    for avro in sorted((braze_samples / "avro").glob("*.avro")):
        event_type = avro.name.removesuffix(".avro")
        twin = _twin(braze_samples, event_type)
        if event_type in AVRO_ONLY_TYPES:
            assert not twin.exists()
            continue
        ours, theirs = _read_one(avro), _read_one(twin)
        allowed = PRESENT_ON_ONE_SIDE_ONLY.get(event_type, set())
        for section in ("user", "properties"):
            for name in set(ours[section]) | set(theirs[section]):
                if f"{section}.{name}" in allowed:
                    assert (name in ours[section]) != (name in theirs[section]), (event_type, section, name)
                    ours[section].pop(name, None)
                    theirs[section].pop(name, None)
        assert ours == theirs, event_type
        pairs += 1
    assert pairs == 90


def test_documented_rules_are_exercised_by_the_samples(braze_samples: Path) -> None:
    purchase = _read_one(braze_samples / "avro" / "users.behaviors.Purchase.avro")
    assert purchase["properties"]["price"] == 3.14
    assert isinstance(purchase["properties"]["purchase_properties"], dict)
    custom = _read_one(braze_samples / "avro" / "users.behaviors.CustomEvent.avro")
    assert custom["properties"]["custom_properties"]["listProperty"] == ["a"]
    banner = _read_one(braze_samples / "avro" / "users.messages.banner.Click.avro")
    assert "canvas_step_message_variation_api_id" in banner["properties"]
    assert "canvas_step_message_variation_id" not in banner["properties"]


@pytest.mark.parametrize("event_type", ["agentconsole.AgentExecuted", "agentconsole.ToolInvocation"])
def test_agentconsole_long_time_and_missing_user_id(braze_samples: Path, event_type: str) -> None:
    event = _read_one(braze_samples / "avro" / f"{event_type}.avro")
    assert isinstance(event["time"], int)
    assert event["event_type"] == event_type
