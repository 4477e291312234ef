"""Parquet export: a fixed schema, one row group per batch, DES as list<float32>.

pyarrow is imported here only, inside functions, so pages that never export Parquet don't pay
for loading it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from annotator.models import Dataset
from review.selectors.export import export_model_names
from review.selectors.snapshot import consistent_snapshot
from review.services.export_formats import ExportChunk, ExportOptions
from review.services.export_rows import (
    DES_COLUMN,
    DES_DIMENSIONS,
    columns_for,
    iter_export_batches_for,
)

INT_COLUMNS = {"sample_id"}
FLOAT_COLUMNS = {"confidence"}
TIME_COLUMNS = {"decided_at"}
REQUIRED_COLUMNS = {"sample_id", "external_id", "image_path", "status", "bbox"}


def parquet_schema(*, columns: Sequence[str]) -> Any:
    """The Arrow schema for `columns` (as export_columns orders them) plus DES."""
    import pyarrow as pa

    fields = []
    for name in columns:
        if name in INT_COLUMNS:
            kind = pa.int64()
        elif name in FLOAT_COLUMNS:
            kind = pa.float64()
        elif name in TIME_COLUMNS:
            kind = pa.timestamp("us", tz="UTC")
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind, nullable=name not in REQUIRED_COLUMNS))
    fields.append(pa.field(DES_COLUMN, pa.list_(pa.float32()), nullable=True))
    return pa.schema(fields)


def des_array(values: Sequence[bytes | None]) -> Any:
    """list<float32> from raw little-endian float32 vectors (None stays null), without copies
    through Python floats."""
    import numpy as np
    import pyarrow as pa

    present = [v for v in values if v is not None]
    flat = np.frombuffer(b"".join(present), dtype="<f4") if present else np.empty(0, "<f4")
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    lengths = np.array([0 if v is None else DES_DIMENSIONS for v in values], dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    mask = pa.array([v is None for v in values], type=pa.bool_())
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(flat, type=pa.float32()), type=pa.list_(pa.float32()), mask=mask
    )


def batch_table(*, rows: Sequence[dict[str, object]], schema: Any) -> Any:
    import pyarrow as pa

    arrays = []
    for field in schema:
        values = [row[field.name] for row in rows]
        if field.name == DES_COLUMN:
            arrays.append(des_array(values))  # type: ignore[arg-type]
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_parquet(*, dataset: Dataset, scope: str, path: Path) -> int:
    """Write the export to `path` (not atomically: see export_to_path); return rows written.

    Every read is in one snapshot, the column set included. Parquet cells are data, never
    formulas: no formula guard here.
    """
    import pyarrow.parquet as pq

    written = 0
    with consistent_snapshot():
        model_names = export_model_names(dataset=dataset)
        schema = parquet_schema(columns=columns_for(model_names))
        with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
            for rows in iter_export_batches_for(
                dataset=dataset, scope=scope, model_names=model_names, with_des=True
            ):
                writer.write_table(batch_table(rows=rows, schema=schema), row_group_size=len(rows))
                written += len(rows)
    return written


class _Drain:
    """A write-only file for pyarrow that keeps what was written until taken: the Parquet
    bytes leave row group by row group instead of after the whole file."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False
        self.position = 0

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self.parts.append(raw)
        self.position += len(raw)
        return len(raw)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def iter_parquet_export(
    *, dataset: Dataset, scope: str, options: ExportOptions
) -> Iterator[ExportChunk]:
    """The Parquet export as chunks, one per row group (review.services.export_formats)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with consistent_snapshot():
        model_names = export_model_names(dataset=dataset)
        schema = parquet_schema(columns=columns_for(model_names))
        drain = _Drain()
        with pq.ParquetWriter(pa.PythonFile(drain, mode="w"), schema, compression="zstd") as writer:
            for rows in iter_export_batches_for(
                dataset=dataset, scope=scope, model_names=model_names, with_des=True
            ):
                writer.write_table(batch_table(rows=rows, schema=schema), row_group_size=len(rows))
                yield ExportChunk(drain.take(), len(rows))
        yield ExportChunk(drain.take(), 0)
