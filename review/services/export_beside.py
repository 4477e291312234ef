"""The files written beside an export's main file: the label map (FILE.labels.json), the
datasheet (FILE.datasheet.md) and, for Label Studio, the labeling config to paste
(FILE.labelconfig.xml). Each is written atomically (a temporary file, then os.replace), so a
reader never sees half of one. The names are the export jobs' (review.selectors.export_jobs):
the main file's whole name plus the suffix.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from annotator.models import Dataset
from review.services.export_datasheet import datasheet_markdown
from review.services.export_formats import FORMAT_LABELSTUDIO
from review.services.export_labelmap import label_map_bytes

LABELS_SUFFIX = ".labels.json"
DATASHEET_SUFFIX = ".datasheet.md"
LABELCONFIG_SUFFIX = ".labelconfig.xml"


class BesideFile(NamedTuple):
    path: Path
    what: str  # what the command says it wrote


def write_atomically(*, path: Path, data: bytes) -> None:
    """`data` to `path` through a temporary file beside it: all or nothing."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def beside_path(*, path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def write_beside_files(*, dataset: Dataset, scope: str, fmt: str, path: Path) -> list[BesideFile]:
    """Write the label map, the datasheet and (Label Studio) the labeling config beside
    `path`; return what was written, in that order."""
    parts = [
        (LABELS_SUFFIX, "label map", label_map_bytes(dataset=dataset)),
        (
            DATASHEET_SUFFIX,
            "datasheet",
            datasheet_markdown(dataset=dataset, scope=scope, fmt=fmt).encode("utf-8"),
        ),
    ]
    if fmt == FORMAT_LABELSTUDIO:
        # Imported here: only a Label Studio export needs helper B's module.
        from review.services.export_labelstudio import labelstudio_config_xml

        xml = labelstudio_config_xml(dataset=dataset).encode("utf-8")
        parts.append((LABELCONFIG_SUFFIX, "Label Studio labeling config", xml))
    written = []
    for suffix, what, data in parts:
        target = beside_path(path=path, suffix=suffix)
        write_atomically(path=target, data=data)
        written.append(BesideFile(target, what))
    return written
