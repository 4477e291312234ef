"""Export decided labels for training: CSV or Parquet, streamed batch by batch.

The CSV carries export_rows.csv_columns_for: the label, every model's own answer, the critic's
reasoning, notes, size, hash and licence, then the soft labels: label_source, posterior_entropy
and one posterior_<label> per taxonomy label (docs/formats.md, "Label export").

Memory does not grow with the dataset: samples are read in keyset batches of
settings.EXPORT_BATCH_SIZE and each batch is written before the next is read. Every batch of one
export reads the same snapshot (review.selectors.snapshot), so an export taken while a re-import
commits is all-old or all-new. CSV text cells that a spreadsheet would run as a formula get a
leading ' unless the caller turns formula_guard off (csv_cells.csv_value).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from annotator.models import Dataset
from review.selectors.export import SCOPE_ALL, SCOPE_DECIDED, SCOPES, export_model_names
from review.selectors.snapshot import consistent_snapshot
from review.services.csv_cells import csv_value
from review.services.export_files import write_chunks_atomically
from review.services.export_formats import (
    FORMAT_CSV,
    FORMAT_PARQUET,
    FORMATS,
    ExportChunk,
    ExportOptions,
    export_format,
)
from review.services.export_parquet import write_parquet
from review.services.export_posterior import EXTRA_POSTERIOR, LABEL_FROM_DECIDED, soft_labels_for
from review.services.export_rows import (
    csv_columns_for,
    export_columns,
    iter_export_batches,
    iter_export_batches_for,
)

__all__ = [
    "FORMATS",
    "FORMAT_CSV",
    "FORMAT_PARQUET",
    "SCOPES",
    "SCOPE_ALL",
    "SCOPE_DECIDED",
    "export_columns",
    "export_filename",
    "export_to_path",
    "iter_csv_chunks",
    "iter_csv_export",
    "iter_export_batches",
    "write_csv",
    "write_parquet",
]


class _Echo:
    """A file-like that hands back what csv.writer writes, for streaming."""

    def write(self, value: str) -> str:
        return value


def _csv_line(writer: Any, values: list[object]) -> str:
    """One CSV line ending in LF, with every cell holding a CR or LF quoted.

    csv quotes only the characters of its line terminator, so with "\n" a bare CR in a cell
    went out unquoted and split the row for readers; "\r\n" makes both count, then the line's
    own terminator is written as "\n".
    """
    return str(writer.writerow(values))[:-2] + "\n"


def _csv_chunks(
    *, dataset: Dataset, scope: str, formula_guard: bool, label_from: str = LABEL_FROM_DECIDED
) -> Iterator[tuple[str, int]]:
    """(text, rows in it): the header with 0 rows, then one chunk per batch.

    The caller holds the snapshot: the column set and every batch come from the same one.
    """
    model_names = export_model_names(dataset=dataset)
    soft = soft_labels_for(dataset=dataset, label_from=label_from)
    columns = csv_columns_for(model_names, labels=soft.labels)
    plain = columns[: -len(soft.labels)] if soft.labels else columns
    blank = [""] * len(soft.labels)
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield _csv_line(writer, list(columns)), 0
    batches = iter_export_batches_for(
        dataset=dataset, scope=scope, model_names=model_names, soft=soft
    )
    for rows in batches:
        text = "".join(
            _csv_line(
                writer,
                [csv_value(row[c], formula_guard=formula_guard) for c in plain]
                + (_posterior_cells(row) or blank),
            )
            for row in rows
        )
        yield text, len(rows)


def _posterior_cells(row: dict[str, object]) -> list[object] | None:
    """The posterior_<label> cells (numbers: no formula guard), None when the row has none."""
    vector = row[EXTRA_POSTERIOR]
    return list(vector) if isinstance(vector, list) else None


def iter_csv_chunks(*, dataset: Dataset, scope: str, formula_guard: bool = True) -> Iterator[str]:
    """The CSV export as text chunks: the header, then one chunk per batch (for streaming).

    The snapshot opens at the first chunk and closes when the generator ends or is closed (a
    streamed response closes it when the client is done or gone).
    """
    with consistent_snapshot():
        for text, _ in _csv_chunks(dataset=dataset, scope=scope, formula_guard=formula_guard):
            yield text


def iter_csv_export(
    *, dataset: Dataset, scope: str, options: ExportOptions
) -> Iterator[ExportChunk]:
    """The CSV export as UTF-8 chunks (review.services.export_formats.ChunkWriter)."""
    with consistent_snapshot():
        for text, rows in _csv_chunks(
            dataset=dataset,
            scope=scope,
            formula_guard=options.formula_guard,
            label_from=options.label_from,
        ):
            yield ExportChunk(text.encode("utf-8"), rows)


def write_csv(*, dataset: Dataset, scope: str, out: TextIO, formula_guard: bool = True) -> int:
    """Write the CSV export to `out` (open it with newline=""); return the rows written."""
    written = 0
    with consistent_snapshot():
        for text, rows in _csv_chunks(dataset=dataset, scope=scope, formula_guard=formula_guard):
            out.write(text)
            written += rows
    return written


def export_filename(*, dataset: Dataset, scope: str, fmt: str) -> str:
    return f"{dataset.name}-{scope}.{export_format(fmt).suffix}"


def export_to_path(
    *,
    dataset: Dataset,
    scope: str,
    fmt: str,
    path: Path,
    formula_guard: bool = True,
    options: ExportOptions | None = None,
) -> int:
    """Write the export to `path` atomically: a temporary file beside it, then os.replace.

    A failed export leaves no file at `path` (and an older export there stays untouched).
    `formula_guard` applies to CSV only (`options`, when given, wins).
    """
    chosen = export_format(fmt)
    if scope not in SCOPES:
        raise ValueError(f"unknown export scope {scope!r}: use one of {', '.join(SCOPES)}")
    options = options or ExportOptions(formula_guard=formula_guard)
    chunks = chosen.chunks(dataset=dataset, scope=scope, options=options)
    return write_chunks_atomically(chunks=chunks, path=Path(path))
