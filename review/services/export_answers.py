"""Export every human answer and vote of a dataset: CSV or Parquet, one row each, streamed.

The rows (review.selectors.export_answers, docs/formats.md "Answers export") come in time order
(answered_at, then id), read inside one snapshot in batches of settings.EXPORT_BATCH_SIZE rows;
each batch leaves as one chunk (CSV text, or one Parquet row group) before the next is read, so
memory stays flat. changed_at, the last column, is when a row last changed (the datasheet says
how: export_datasheet.ANSWER_COLUMN_NOTES). CSV text cells that a spreadsheet would run get a
leading ' (csv_cells.csv_value) unless `formula_guard` is off; Parquet cells are data and never
changed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from annotator.models import Dataset
from review.selectors.export_answers import ANSWER_COLUMNS, AnswerExportRow, iter_answer_batches
from review.selectors.snapshot import consistent_snapshot
from review.services.csv_cells import csv_value
from review.services.export_files import ChunkDrain, write_chunks_atomically
from review.services.export_formats import ExportChunk

ANSWER_FORMATS = ("csv", "parquet")
ANSWER_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
_INT64 = {"sample_id", "time_spent_ms", "round"}
_FLOAT64 = {"value_number", "confidence"}
_BOOL = {"vote", "reverted"}
_TIMES = {"answered_at", "changed_at"}
_REQUIRED = {"sample_id", "external_id", "kind", "answered_at", "source", "round", "changed_at"}


def iter_answers_export(
    *, dataset: Dataset, fmt: str, formula_guard: bool = True
) -> Iterator[ExportChunk]:
    """The answers export as chunks; ExportChunk.rows counts answer rows (not samples).

    An unknown `fmt` is a ValueError at the call, before any chunk; the snapshot opens at the
    first chunk and closes when the generator ends or is closed.
    """
    if fmt not in ANSWER_FORMATS:
        raise ValueError(f"unknown answers format {fmt!r}: use one of {', '.join(ANSWER_FORMATS)}")
    return _chunks(dataset=dataset, fmt=fmt, formula_guard=formula_guard)


def _chunks(*, dataset: Dataset, fmt: str, formula_guard: bool) -> Iterator[ExportChunk]:
    with consistent_snapshot():
        if fmt == "csv":
            yield from _csv_chunks(dataset=dataset, formula_guard=formula_guard)
        else:
            yield from _parquet_chunks(dataset=dataset)


def _batches(dataset: Dataset) -> Iterator[list[AnswerExportRow]]:
    return iter_answer_batches(dataset=dataset, batch_size=settings.EXPORT_BATCH_SIZE)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_chunks(*, dataset: Dataset, formula_guard: bool) -> Iterator[ExportChunk]:
    # "\r\n" so csv quotes a bare CR too; each line then ends in LF (as the labels CSV).
    writer = csv.writer(_Echo(), lineterminator="\r\n")

    def line(values: Sequence[object]) -> str:
        return str(writer.writerow(values))[:-2] + "\n"

    yield ExportChunk(line(ANSWER_COLUMNS).encode("utf-8"), 0)
    for rows in _batches(dataset):
        text = "".join(
            line([csv_value(v, formula_guard=formula_guard) for v in row]) for row in rows
        )
        yield ExportChunk(text.encode("utf-8"), len(rows))


def answers_schema() -> Any:
    """The Arrow schema of the Parquet answers export (columns as ANSWER_COLUMNS)."""
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in _INT64:
            return pa.int64()
        if name in _FLOAT64:
            return pa.float64()
        if name in _BOOL:
            return pa.bool_()
        if name in _TIMES:
            return pa.timestamp("us", tz="UTC")
        return pa.string()

    return pa.schema(
        [pa.field(name, kind(name), nullable=name not in _REQUIRED) for name in ANSWER_COLUMNS]
    )


def _parquet_chunks(*, dataset: Dataset) -> Iterator[ExportChunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = answers_schema()
    drain = ChunkDrain()
    with pq.ParquetWriter(pa.PythonFile(drain, mode="w"), schema, compression="zstd") as writer:
        for rows in _batches(dataset):
            columns = list(zip(*rows, strict=True))
            table = pa.Table.from_arrays(
                [pa.array(values, type=f.type) for values, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
            writer.write_table(table, row_group_size=len(rows))
            yield ExportChunk(drain.take(), len(rows))
    yield ExportChunk(drain.take(), 0)


def export_answers_to_path(
    *, dataset: Dataset, fmt: str, path: Path, formula_guard: bool = True
) -> int:
    """Write the answers export to `path` atomically (a temporary file beside it, then
    os.replace; a failed export leaves no file and an older one untouched); return rows."""
    chunks = iter_answers_export(dataset=dataset, fmt=fmt, formula_guard=formula_guard)
    return write_chunks_atomically(chunks=chunks, path=path)
