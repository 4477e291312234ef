"""Every export format in one registry: the command, the web page, export jobs and the API all
choose from FORMATS by name and call the same chunk writer.

A writer is a generator of ExportChunk (bytes plus how many samples they finish): the file
writer loops over it, a streamed download sends each chunk as it comes, an export job counts the
rows for its progress bar. A writer opens its own snapshot (review.selectors.snapshot) and
closes it when the generator ends or is closed. Writers are imported by dotted path on first
use, so pages that never export a format don't load what it needs (pyarrow, numpy).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from django.utils.module_loading import import_string

from annotator.models import Dataset


class ExportChunk(NamedTuple):
    data: bytes
    rows: int  # samples whose bytes this chunk completes (0 for headers, footers, metadata)


@dataclass(frozen=True)
class ExportOptions:
    formula_guard: bool = True  # CSV only: text that a spreadsheet would run gets a leading '
    embed_images: bool = False  # Parquet only: an image column with the file's bytes
    # "consensus": undecided samples get the latent-class model's label (export_posterior)
    label_from: str = "decided"


class ChunkWriter(Protocol):
    def __call__(
        self, *, dataset: Dataset, scope: str, options: ExportOptions
    ) -> Iterator[ExportChunk]: ...


@dataclass(frozen=True)
class ExportFormat:
    name: str  # what --format, ?format= and the API take
    title: str  # what the export page shows
    suffix: str  # the file name's end after "<dataset>-<scope>."
    content_type: str
    writer_path: str  # dotted path of a ChunkWriter

    def chunks(
        self, *, dataset: Dataset, scope: str, options: ExportOptions | None = None
    ) -> Iterator[ExportChunk]:
        writer: ChunkWriter = import_string(self.writer_path)
        return writer(dataset=dataset, scope=scope, options=options or ExportOptions())


FORMAT_CSV = "csv"
FORMAT_PARQUET = "parquet"
FORMAT_COCO = "coco"
FORMAT_JSONL = "jsonl"
FORMAT_LABELSTUDIO = "labelstudio"

_ALL = (
    ExportFormat(
        FORMAT_CSV,
        "CSV",
        "csv",
        "text/csv; charset=utf-8",
        "review.services.export.iter_csv_export",
    ),
    ExportFormat(
        FORMAT_PARQUET,
        "Parquet (pandas, polars, Hugging Face datasets)",
        "parquet",
        "application/vnd.apache.parquet",
        "review.services.export_parquet.iter_parquet_export",
    ),
    ExportFormat(
        FORMAT_COCO,
        "COCO instance segmentation",
        "coco.json",
        "application/json",
        "review.services.export_coco.iter_coco_export",
    ),
    ExportFormat(
        FORMAT_JSONL,
        "EmoVerse JSONL (re-importable)",
        "jsonl",
        "application/x-ndjson",
        "review.services.export_jsonl.iter_jsonl_export",
    ),
    ExportFormat(
        FORMAT_LABELSTUDIO,
        "Label Studio tasks",
        "labelstudio.json",
        "application/json",
        "review.services.export_labelstudio.iter_labelstudio_export",
    ),
)
FORMATS: dict[str, ExportFormat] = {f.name: f for f in _ALL}


def export_format(name: str) -> ExportFormat:
    """The format called `name`, or ValueError naming the ones there are."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown export format {name!r}: use one of {', '.join(FORMATS)}"
        ) from None
