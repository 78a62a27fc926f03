"""Every stored identity in one place: file identities, settings fingerprints, bundle names, batch keys,
replay generations and the ledger's object names.

Each is stored somewhere that outlives a release (ledger object names and records, Treasure Data's import
ids, which make a resent batch a no-op, and table names), so each output here is frozen byte for byte: a
change would make an upgraded delivery miss its own progress or send a batch twice. New identities use
`digest`, SHA-256 in hex cut to the length asked for. Two older ones keep the hash they were first stored
with: the keys of split batches (BLAKE2b, 128 bits) and the suffix of a shortened table name (SHA-1). Event
ids, which the ledger keeps for dedupe, are 64-bit BLAKE2b integers (`id_hash`): the hot loop hashes every
event, and BLAKE2b at 8 bytes is the cheapest stable hash the standard library has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache

import orjson


def digest(data: str | bytes, chars: int) -> str:
    """The first `chars` hex digits of `data`'s SHA-256 (text is UTF-8)."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:chars]


def id_hash(event_id: str) -> int:
    """An event id's stable 64-bit hash: the same in every process, so the ledger can keep hashes, not ids."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


def staged_file_identity(key: str, size: int, etag: str | None) -> str:
    """A staged file: its key, size and ETag, so a file rewritten under the same key is a new file."""
    return digest(f"{key}\0{size}\0{etag or ''}", 32)


def settings_fingerprint(shape: dict) -> str:
    """Everything that shapes a delivery's batches (destination, limits, filter, transform, dedupe)."""
    return digest(orjson.dumps(shape), 16)


def bundle_name(fingerprint: str, generation: str, identities: Iterable[str]) -> str:
    """A bundle of several files: its files in order, and the settings they are delivered with."""
    return digest(f"{fingerprint}:{generation}:{','.join(identities)}", 32)


def batch_key(bundle: str, fingerprint: str, generation: str, index: int) -> str:
    """The `index`th batch of a bundle, the same on every retry (the Import API's unique id)."""
    return digest(f"{bundle}:{fingerprint}:{generation}:{index}", 32)


def requeue_batch_key(record_path: str, index: int, items: list[bytes]) -> str:
    """A batch of quarantined events sent again: the record's path and the batch's content."""
    return digest(f"requeue:{record_path}:{index}:".encode() + b"".join(items), 32)


def split_key(key: str, half: int) -> str:
    """One half of a batch split after a 413 or 400, so a rerun splits into the same ids."""
    return hashlib.blake2b(f"{key}/{half}".encode(), digest_size=16).hexdigest()


def content_key(route: str, items: list[bytes]) -> str:
    """A batch the caller gave no key: its route and content."""
    hashed = hashlib.blake2b(route.encode(), digest_size=16)
    for item in items:
        hashed.update(item)
    return hashed.hexdigest()


def replay_generation(owner: str) -> str:
    """A replay's generation: one per run that asks for it, so a replay's retry resumes that replay."""
    return "replay-" + digest(owner, 12)


@lru_cache(maxsize=64)
def owner_key(owner: str) -> str:
    """The prefix of a claim token: who holds the claim."""
    return digest(owner, 16)


def error_record_name(destination: str, event_types: list[str]) -> str:
    """The ledger object holding the last error of one delivery and event-type group."""
    return digest(orjson.dumps([destination, event_types]), 24)


def discard_record_name(record_path: str) -> str:
    """The ledger object keeping a quarantine record a person discarded."""
    return digest(record_path, 24)


def shortened_name_suffix(name: str) -> str:
    """The suffix that keeps a table name cut to Treasure Data's length limit unique."""
    return hashlib.sha1(name.encode()).hexdigest()[:8]
