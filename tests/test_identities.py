"""Stored identities stay byte for byte what earlier releases stored (ledger names, TD import ids), so an
upgraded delivery finds its own progress and a resent batch stays a no-op. The expected values are the
outputs of the formulas each identity had before they moved into `identities`."""

from __future__ import annotations

from airflow_braze_td import identities


def test_every_stored_identity_is_unchanged() -> None:
    assert identities.staged_file_identity("k.avro", 12, "e") == "5ddd68ccf563aec6ae275ea192341c2e"
    assert identities.settings_fingerprint({"destination": "d", "dedupe_hours": 48}) == "5652e2ce76107b7b"
    assert identities.bundle_name("fp", "first", ["a", "b"]) == "441d8d27c832170b8fbc592d26cef6ee"
    assert identities.batch_key("bundle", "fp", "first", 3) == "441e1dc9c0161b744c2b38a28161829e"
    assert identities.requeue_batch_key("q/x.json", 0, [b"ab", b"c"]) == "f2eed35c5060b2d3e5fc7b23b075e6d0"
    assert identities.split_key("key", 1) == "57eed5c41ee948406e7551791fba80dc"
    assert identities.content_key("route", [b"ab", b"c"]) == "f69a2169c189fd63d0a25eac7ad55b74"
    assert identities.replay_generation("dag/task/run") == "replay-734a46fd7dc6"
    assert identities.owner_key("dag/task/run") == "734a46fd7dc6096a"
    assert identities.error_record_name("dest", ["a"]) == "2a6020893068cbb5e2e9a950"
    assert identities.discard_record_name("q/x.json") == "239087f90ac561dc60666d14"
    assert identities.shortened_name_suffix("name") == "6ae99955"


def test_content_key_covers_every_item_in_order() -> None:
    assert identities.content_key("route", [b"ab", b"c"]) != identities.content_key("route", [b"c", b"ab"])
    assert identities.split_key("key", 0) != identities.split_key("key", 1)
