"""Bundles: which staged files a delivery reads together, in which order.

Files are delivered in bundles: consecutive files (in `delivery_order`) read as one stream, with one claim,
batches that span the files, and one ledger commit when the bundle is done. Braze closes a file every
5 minutes per partition, so a busy workspace stages thousands of small files an hour, and per-file claims,
requests and ledger writes would cost more than the events. A bundle holds one event type, so a failure on
one type's table never holds back another type's files, and no batch mixes event types. A bundle may span
hours: a day's files of one event type are consecutive in delivery order, so a small type's backlog makes
about one bundle a day rather than one an hour. Bundles grow from one file (so concurrent runs share the
work) up to `BUNDLE_MAX_FILES` files or `BUNDLE_MAX_BYTES`; a big file is a bundle of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.delivery.ledger import FileState, Ledger

log = logging.getLogger(__name__)

BUNDLE_MAX_FILES = 512
BUNDLE_MAX_BYTES = 8 << 20
DELIVERY_DAY_SECONDS = 24 * 3600


def delivery_order(staged: StagedFile) -> tuple:
    """Oldest UTC day first; within a day, one event type at a time, hour by hour.

    A day's files of one event type are consecutive, so a small type's backlog fills one bundle (one claim,
    one commit, full batches) rather than one per hour, and a backlog of several days still goes oldest
    day first. Each event type's files stay in queue-hour order, which is what dedupe relies on.
    """
    return (staged.queue_hour_timestamp // DELIVERY_DAY_SECONDS, staged.event_type, staged.sort_key)


def bundles_to_resume(ledger: Ledger, known: dict[str, FileState], delivering: frozenset[str], fingerprint: str,
                      generation: str) -> list[list[StagedFile]]:
    """The open bundles of these settings that hold files this run delivers (`delivering`: their identities),
    each with its files as they were; open bundles whose files are all finished are closed."""
    taken: set[str] = set()
    resumed: list[list[StagedFile]] = []
    for bundle, details in ledger.open_bundles():
        members = [StagedFile.from_dict(item) for item in details.get("files", ())]
        if all(member.identity in known for member in members):
            ledger.close_bundle(bundle)
            continue
        same_settings = (details.get("fingerprint"), details.get("generation")) == (fingerprint, generation)
        if same_settings and any(member.identity in delivering and member.identity not in taken
                                 for member in members):
            taken.update(member.identity for member in members)
            resumed.append(members)
    return resumed


def plan_bundles(todo: list[StagedFile], resumed: list[list[StagedFile]]) -> Iterator[list[StagedFile]]:
    """Bundles in delivery order. Open bundles (`resumed`) come whole and as they were, each at its place in
    that order; between them come new bundles of one event type each, growing, never reaching past the next
    open bundle.

    A retry must read the files in the order the failed try did: several bundles can be unfinished at a
    kill (one read while the one before is sent), and read in another order, dedupe would keep a
    duplicate in a different bundle, so batches already sent would not be the ones rebuilt.

    Only the files of resumed bundles (usually none) get a set of their own, as a second set of every
    pending identity weighs as much as the first.
    """
    taken = {member.identity for members in resumed for member in members}
    resumed = sorted(resumed, key=lambda members: delivery_order(members[0]), reverse=True)
    rest = [staged for staged in todo if staged.identity not in taken] if taken else todo
    size = 1
    start = 0
    while start < len(rest) or resumed:
        if resumed and (start == len(rest) or delivery_order(resumed[-1][0]) < delivery_order(rest[start])):
            members = resumed.pop()
            log.info("Resuming an open bundle of %d file(s), from %s", len(members), members[0].key)
            yield members
            continue
        limit = delivery_order(resumed[-1][0]) if resumed else None
        end, nbytes = start + 1, rest[start].size
        while (end < len(rest) and end - start < size and nbytes + rest[end].size <= BUNDLE_MAX_BYTES
               and rest[end].event_type == rest[start].event_type
               and (limit is None or delivery_order(rest[end]) < limit)):
            nbytes += rest[end].size
            end += 1
        yield rest[start:end]
        start, size = end, min(size * 2, BUNDLE_MAX_FILES)
