"""The columnar reader: a whole Avro file decoded by Polars (Rust) into columns, then made into events.

fastavro builds a Python dict per record, most of a record's decoding cost; Polars decodes a file's blocks
straight into columns, several times faster. The columns are then normalised by the plan of the one
normalisation (`RecordNormaliser.event_columns`) into `EventColumns` blocks, which give the same events as
dicts (`EventColumns.events`), so both readers give equal events; the delivery filters, dedupes and encodes the
blocks without making a dict per event. A file this reader
does not take (a codec or field type Polars does not read as fastavro does, or a damaged file) is left to the
streaming fastavro reader, which also says how far a damaged file could be read; `ColumnarRefusal` says why.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import lru_cache

import polars as pl
from polars.exceptions import PanicException

from airflow_braze_td.currents.decode import AVRO_MAGIC, BadEvent
from airflow_braze_td.currents.events import EventColumns, RecordNormaliser, expand_blocks

# Events made from the columns at a time: a slice of a big file's columns and its events, not all of them.
SLICE_ROWS = 10_000
_SCALARS = (pl.String, pl.Boolean, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32,
            pl.Float32, pl.Float64)
_INTEGERS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


class ColumnarRefusal(str):
    """Why a file is not read by the columnar reader (fastavro reads it instead)."""


def columnar_blocks(data: bytes, event_type: str | None) -> Iterator[EventColumns | BadEvent] | ColumnarRefusal:
    """The events of one whole staged Avro file of `event_type` (its key's) as `EventColumns` blocks, with a
    `BadEvent` for each record that is not an event, equal to what `decode.iter_events` yields; or why this
    reader leaves the file to fastavro (decided before any event).

    The file is decoded whole, but made into blocks of `SLICE_ROWS`, so a big file never holds all its events
    as Python objects at once, only its columns."""
    if data[:4] != AVRO_MAGIC:
        return ColumnarRefusal("not an Avro file")
    if event_type is None:
        return ColumnarRefusal("no event type in the key")
    try:
        frame = pl.read_avro(io.BytesIO(data))
    # Damaged, or a codec or type Polars lacks (a map panics in Rust): fastavro says which, and where.
    except (Exception, PanicException) as error:  # noqa: BLE001
        return ColumnarRefusal(f"Polars could not read it ({_first_line(error)})")
    plan = _plan(tuple(frame.columns), tuple(frame.dtypes), event_type)
    if isinstance(plan, ColumnarRefusal):
        return plan
    return _blocks(frame, *plan)


def columnar_events(data: bytes, event_type: str | None) -> Iterator[dict | BadEvent] | ColumnarRefusal:
    """`columnar_blocks` as one event (a dict) or `BadEvent` at a time, as `decode.iter_events` yields them."""
    blocks = columnar_blocks(data, event_type)
    if isinstance(blocks, ColumnarRefusal):
        return blocks
    return expand_blocks(blocks)


def _blocks(frame: pl.DataFrame, normalise: RecordNormaliser,
            float32: frozenset[str]) -> Iterator[EventColumns | BadEvent]:
    names = frame.columns
    for start in range(0, frame.height, SLICE_ROWS):
        rows = frame.slice(start, SLICE_ROWS)
        columns = dict(zip(names, [series.to_list() for series in rows.get_columns()], strict=True))
        for name in float32:
            columns[name] = rows.get_column(name).cast(pl.String).cast(pl.Float64).to_list()
        block, invalid = normalise.event_columns(columns)
        if not invalid:
            yield block
            continue
        # In file order: the block's rows between two bad records, then the bad record.
        done = 0
        for position, (index, error) in enumerate(invalid):
            valid_before = index - position
            if valid_before > done:
                yield block.take(list(range(done, valid_before)))
                done = valid_before
            yield BadEvent(start + index, str(error), frame.row(start + index, named=True))
        if len(block) > done:
            yield block.take(list(range(done, len(block))))


@lru_cache(maxsize=1024)
def _plan(columns: tuple[str, ...], dtypes: tuple[pl.DataType, ...],
          event_type: str) -> tuple[RecordNormaliser, frozenset[str]] | ColumnarRefusal:
    """The normaliser for files of these columns, and their 32-bit float columns: written at the shortest
    decimal that reads back as the same float32, as Polars writes them (Braze's HTTP export writes 3.14 where
    Avro holds 3.140000104904175). Or why such files are not taken: a Polars type that would not give the values
    fastavro gives (logical types such as timestamps, records, maps, bytes), or identity fields missing or
    of the wrong type (fastavro's reader words that error), or a JSON-string `properties` beside a field of the
    name it is read into. Made once per schema, not once per file."""
    types = dict(zip(columns, dtypes, strict=True))
    for column, dtype in types.items():
        inner = dtype.inner if isinstance(dtype, pl.List) else dtype
        if not isinstance(inner, _SCALARS):
            return ColumnarRefusal(f"field type {dtype}")
    if types.get("id") != pl.String or not isinstance(types.get("time"), _INTEGERS):
        return ColumnarRefusal("no string id or integer time")
    float32 = frozenset(column for column, dtype in types.items() if dtype == pl.Float32)
    normaliser = RecordNormaliser(columns, event_type, float32)
    if normaliser.json_field in types and "properties" in types:
        return ColumnarRefusal(f"both `properties` and `{normaliser.json_field}` fields")
    return normaliser, float32


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
