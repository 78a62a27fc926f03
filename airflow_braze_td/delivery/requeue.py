"""Quarantined events sent again once their cause is fixed, or discarded on purpose."""

from __future__ import annotations

from collections import Counter

from airflow_braze_td.currents.events import InvalidEvent, normalise_http_event
from airflow_braze_td.currents.layout import StagedFile
from airflow_braze_td.delivery.batching import Batch
from airflow_braze_td.delivery.ledger import DELIVERED, Ledger
from airflow_braze_td.delivery.sink import EventEncodeError, Sink
from airflow_braze_td.identities import requeue_batch_key


def requeue_quarantined(ledger: Ledger, sink: Sink, *, discard: bool = False) -> dict:
    """Send quarantined events again (after the cause is fixed), or `discard` them on purpose.

    Events accepted now leave the quarantine; events rejected again stay, with the new reason. A file
    whose quarantine is empty is marked delivered. Unreadable-file records only leave with `discard`.
    Batch identities come from the record's path and content, so a crashed requeue repeated with the
    import sink sends nothing twice.
    """
    outcome: Counter = Counter()
    touched: dict[str, StagedFile] = {}
    for path, record in ledger.quarantined():
        staged = StagedFile.from_dict(record["staged"])
        touched[staged.identity] = staged
        if discard:
            ledger.record_discard(path, record)
            ledger.resolve_quarantine(path)
            outcome["discarded_records"] += 1
            continue
        entries = record.get("events", ())
        if not entries:
            outcome["records_kept"] += 1
            continue
        rejected: list[dict] = []
        events = []
        for entry in entries:
            try:
                events.append(normalise_http_event(entry["event"], staged.event_type))
            except InvalidEvent as error:
                rejected.append({"reason": str(error), "event": entry["event"]})
        batcher = sink.batcher()
        batches: list[Batch] = []
        for event in events:
            try:
                route, item = sink.encode(event)
                batches.extend(batcher.add(route, item, event))
            except EventEncodeError as error:
                rejected.append({"reason": str(error), "event": event})
        batches.extend(batcher.flush())
        for batch in batches:
            batch.key = requeue_batch_key(path, batch.index, batch.items)
            result = sink.send(batch)
            outcome["sent"] += result.accepted
            rejected.extend({"reason": rejection.reason, "event": rejection.event} for rejection in result.rejected)
        outcome["rejected_again"] += len(rejected)
        ledger.resolve_quarantine(path)
        if rejected:
            ledger.quarantine(staged, path.rsplit("/", 1)[1].removesuffix(".json"), {"events": rejected})
    still_quarantined = {record["identity"] for _, record in ledger.quarantined()}
    for identity, staged in touched.items():
        if identity not in still_quarantined:
            ledger.set_state(staged, DELIVERED)
            outcome["files_delivered"] += 1
    return dict(outcome)
