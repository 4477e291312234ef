"""Parquet export that Hugging Face `datasets`, pandas, polars and pyarrow read with real types.

The schema (review.services.export_parquet_schema, docs/formats.md "Parquet") is the
export's own, not the CSV's: regions as structs, DES as 1024 float32, a struct per model.
One row group per batch of settings.EXPORT_BATCH_SIZE samples, and the bytes of each leave
as soon as it is written (_Drain); with embedded images a row group holds IMAGE_GROUP_ROWS
samples, so memory holds at most that many images. pyarrow and numpy are imported inside
functions only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotator.models import Dataset
from review.labels import LABEL_FIELDS_NO_NOTES
from review.selectors.export import export_model_names
from review.selectors.snapshot import consistent_snapshot
from review.services.export_files import ChunkDrain
from review.services.export_formats import ExportChunk, ExportOptions
from review.services.export_parquet_schema import (
    DES_DIMENSIONS,
    IMAGE_COLUMN,
    POSTERIOR_COLUMN,
    model_column,
    parquet_schema,
)
from review.services.export_posterior import EXTRA_POSTERIOR, SoftLabels, soft_labels_for
from review.services.export_rows import iter_export_batches_for

# `datasets` advises ~100 rows per row group for image data (random access and memory).
IMAGE_GROUP_ROWS = 100
PLAIN_COLUMNS = (
    "sample_id", "external_id", "image_path", "source", "status", *LABEL_FIELDS_NO_NOTES,
    "description", "decided_by", "annotator", "decided_at", "width", "height", "content_hash",
    "notes", "label_source", "posterior_entropy",
)  # fmt: skip


@dataclass(frozen=True)
class _Context:
    """What every batch needs beside its rows: fixed once per export, in the snapshot."""

    schema: Any
    model_names: list[str]
    label_ids: Mapping[str, int]
    licence: str | None
    images_root: Path | None  # set only when images are embedded
    soft: SoftLabels


def _context(*, dataset: Dataset, options: ExportOptions) -> _Context:
    soft = soft_labels_for(dataset=dataset, label_from=options.label_from)
    labels = list(soft.labels)
    model_names = export_model_names(dataset=dataset)
    root = dataset.images_root
    return _Context(
        schema=parquet_schema(
            model_names=model_names, labels=labels, embed_images=options.embed_images
        ),
        model_names=model_names,
        label_ids={label: i for i, label in enumerate(labels)},
        licence=dataset.licence or None,
        images_root=Path(root).resolve() if options.embed_images and root else None,
        soft=soft,
    )


def des_array(values: Sequence[bytes | None]) -> Any:
    """fixed_size_list<float32, 1024> from raw little-endian float32 vectors (None stays
    null), without copies through Python floats."""
    import numpy as np
    import pyarrow as pa

    flat = np.zeros(len(values) * DES_DIMENSIONS, dtype="<f4")
    for i, raw in enumerate(values):
        if raw is not None:
            flat[i * DES_DIMENSIONS : (i + 1) * DES_DIMENSIONS] = np.frombuffer(raw, dtype="<f4")
    mask = pa.array([v is None for v in values], type=pa.bool_())
    return pa.FixedSizeListArray.from_arrays(
        pa.array(flat, type=pa.float32()), DES_DIMENSIONS, mask=mask
    )


def posterior_array(values: Sequence[list[float] | None], *, width: int) -> Any:
    """fixed_size_list<float32, width> of the rows' posteriors (None stays null)."""
    import numpy as np
    import pyarrow as pa

    flat = np.zeros((len(values), width), dtype="<f4")
    for i, vector in enumerate(values):
        if vector is not None:
            flat[i] = vector
    mask = pa.array([v is None for v in values], type=pa.bool_())
    return pa.FixedSizeListArray.from_arrays(
        pa.array(flat.reshape(-1), type=pa.float32()), width, mask=mask
    )


def _normalised(box: list[float], width: int | None, height: int | None) -> list[float] | None:
    if not width or not height:
        return None
    x1, y1, x2, y2 = box
    return [x1 / width, y1 / height, x2 / width, y2 / height]


def _mask(value: object) -> dict[str, object] | None:
    """The RLE as the mask struct; a malformed one keeps what fits (null size or counts)."""
    if not isinstance(value, dict):
        return None
    size, counts = value.get("size"), value.get("counts")
    ok_size = isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)
    return {
        "size": size if ok_size else None,
        "counts": counts if isinstance(counts, str) else None,
    }


def region_structs(row: Mapping[str, Any]) -> list[dict[str, object]]:
    """The row's region entries (export_rows.region_entries) as region structs."""
    width, height = row.get("width"), row.get("height")
    return [
        {
            "role": entry["role"],
            "phrase": entry.get("phrase") or None,
            "box": [float(v) for v in entry["box"]],
            "box_normalized": _normalised([float(v) for v in entry["box"]], width, height),
            "origin": entry.get("origin") or None,
            "model_name": entry.get("model_name") or None,
            "segmenter": entry.get("segmenter") or None,
            "score": entry.get("score"),
            "mask": _mask(entry.get("mask")),
        }
        for entry in row.get("regions") or []
    ]


def model_arrays(*, rows: Sequence[Mapping[str, Any]], ctx: _Context) -> dict[str, Any]:
    """Each model's struct column (model_<name>: its own proposal, null where it made none),
    built field by field: per-row dicts cost three times as much at 219K rows."""
    import pyarrow as pa

    by_row = [{p.model_name: p for p in row.get("proposals") or []} for row in rows]
    columns = {}
    for name in ctx.model_names:
        kind = ctx.schema.field(model_column(name)).type
        found = [proposals.get(name) for proposals in by_row]
        children = []
        for field in kind:
            values = [None if p is None else getattr(p, field.name) for p in found]
            children.append(pa.array([v if v != "" else None for v in values], type=field.type))
        missing = pa.array([p is None for p in found], type=pa.bool_())
        columns[model_column(name)] = pa.StructArray.from_arrays(
            children, fields=list(kind), mask=missing
        )
    return columns


def _critic(row: Mapping[str, Any], attribute: str) -> str | None:
    verdict = row.get("critic")
    return (getattr(verdict, attribute) or None) if verdict is not None else None


def image_struct(*, root: Path | None, image_path: str) -> dict[str, object] | None:
    """The image's bytes and path, or None when the file is missing or outside the root
    (the same rule as the sample page: resolve() follows '..' and symlinks)."""
    if root is None or not image_path:
        return None
    path = (root / image_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return {"bytes": path.read_bytes(), "path": image_path}


def _column(name: str, rows: Sequence[Mapping[str, Any]], ctx: _Context) -> list[Any]:
    if name in PLAIN_COLUMNS:
        return [row.get(name) for row in rows]
    if name == "emotion_id":
        return [ctx.label_ids.get(row.get("emotion") or "") for row in rows]
    if name == "licence":
        return [ctx.licence] * len(rows)
    if name == "regions":
        return [region_structs(row) for row in rows]
    if name.startswith("critic_"):
        attribute = "model_name" if name == "critic_model" else name.removeprefix("critic_")
        return [_critic(row, attribute) for row in rows]
    if name == IMAGE_COLUMN:
        return [image_struct(root=ctx.images_root, image_path=row["image_path"]) for row in rows]
    raise ValueError(f"no values for Parquet column {name!r}")


def batch_table(*, rows: Sequence[Mapping[str, Any]], ctx: _Context) -> Any:
    """One batch of export rows as an Arrow table of the export's schema."""
    import pyarrow as pa

    built = model_arrays(rows=rows, ctx=ctx)
    built["DES"] = des_array([row.get("DES") for row in rows])
    built[POSTERIOR_COLUMN] = posterior_array(
        [row.get(EXTRA_POSTERIOR) for row in rows],
        width=ctx.schema.field(POSTERIOR_COLUMN).type.list_size,
    )
    arrays = [
        built[field.name]
        if field.name in built
        else pa.array(_column(field.name, rows, ctx), type=field.type)
        for field in ctx.schema
    ]
    return pa.Table.from_arrays(arrays, schema=ctx.schema)


def _groups(rows: list[dict[str, object]], *, embed: bool) -> Iterator[list[dict[str, object]]]:
    """A batch as row groups: the whole batch, or IMAGE_GROUP_ROWS rows with images."""
    size = IMAGE_GROUP_ROWS if embed else max(len(rows), 1)
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def iter_parquet_export(
    *, dataset: Dataset, scope: str, options: ExportOptions
) -> Iterator[ExportChunk]:
    """The Parquet export as chunks, one per row group (review.services.export_formats)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with consistent_snapshot():
        ctx = _context(dataset=dataset, options=options)
        drain = ChunkDrain()
        sink = pa.PythonFile(drain, mode="w")
        with pq.ParquetWriter(sink, ctx.schema, compression="zstd") as writer:
            for rows in iter_export_batches_for(
                dataset=dataset,
                scope=scope,
                model_names=ctx.model_names,
                with_des=True,
                soft=ctx.soft,
            ):
                for group in _groups(rows, embed=options.embed_images):
                    table = batch_table(rows=group, ctx=ctx)
                    writer.write_table(table, row_group_size=len(group))
                    yield ExportChunk(drain.take(), len(group))
        yield ExportChunk(drain.take(), 0)


def write_parquet(
    *, dataset: Dataset, scope: str, path: Path, options: ExportOptions | None = None
) -> int:
    """Write the export to `path` (not atomically: see export.export_to_path); return rows
    written. Parquet cells are data, never formulas: no formula guard here."""
    written = 0
    with open(os.fspath(path), "wb") as out:
        for chunk in iter_parquet_export(
            dataset=dataset, scope=scope, options=options or ExportOptions()
        ):
            out.write(chunk.data)
            written += chunk.rows
    return written
