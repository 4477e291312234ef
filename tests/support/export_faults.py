"""A slow CSV export for the worker the export kill test SIGKILLs (export_fault_settings.py):
the registry's csv entry points at a writer that yields the real CSV export's chunks, each
after EXPORT_FAULT_CHUNK_SECONDS (default 0.2)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace

from annotator.models import Dataset
from review.services import export_formats
from review.services.export import iter_csv_export
from review.services.export_formats import ExportChunk, ExportOptions


def slow_csv_export(
    *, dataset: Dataset, scope: str, options: ExportOptions
) -> Iterator[ExportChunk]:
    pause = float(os.environ.get("EXPORT_FAULT_CHUNK_SECONDS", "0.2"))
    for chunk in iter_csv_export(dataset=dataset, scope=scope, options=options):
        time.sleep(pause)
        yield chunk


export_formats.FORMATS["csv"] = replace(
    export_formats.FORMATS["csv"], writer_path=f"{__name__}.slow_csv_export"
)
