"""Group planning for mapped tasks: the event types with pending files, packed into groups of seconds of work."""

from __future__ import annotations

from collections import Counter

from airflow_braze_td.currents.layout import StagedFile


def plan_event_type_groups(files: list[StagedFile], target_bytes: int = 256 << 20) -> list[list[str]]:
    """Event-type groups for mapped tasks: seconds of work each, never one small file per task.

    An event type is never split across groups, because Braze's duplicates never cross event types and
    dedupe then stays within one task. Small types are packed together up to `target_bytes`.
    """
    sizes: Counter = Counter()
    for staged in files:
        sizes[staged.event_type] += max(staged.size, 1)
    groups: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for event_type, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        if current and current_bytes + size > target_bytes:
            groups.append(current)
            current, current_bytes = [], 0
        current.append(event_type)
        current_bytes += size
    if current:
        groups.append(current)
    return groups
