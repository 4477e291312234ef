"""Small builders for import tests: records, proposals, JSONL files, and row counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample
from annotator.services.importing import ImportFailed, import_samples_file
from review.models import Adjudication


def proposal(model: str, emotion: str = "awe", **fields: object) -> dict[str, object]:
    return {
        "model": model,
        "description": "A person stands on a snow-covered plain.",
        "emotion": emotion,
        "confidence": 7,
        "background": "snow-covered plain",
        "attribute": "excited",
        "subject": "person",
        **fields,
    }


def record(external_id: str = "s1", image_path: str = "a.jpg", **fields: object) -> dict:
    return {"id": external_id, "image_path": image_path, **fields}


def write_jsonl(path: Path, *lines: object) -> Path:
    """Dicts are written as JSON; strings are written as they are (for broken lines)."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Dataset, Sample, Proposal, Region, CriticVerdict, Adjudication)
    }


def import_lines(tmp_path: Path, root: Path, *lines: object) -> None:
    """Import `lines` as f.jsonl into dataset "emo" (problems name the file f.jsonl)."""
    path = write_jsonl(tmp_path / "f.jsonl", *lines)
    import_samples_file(path=path, dataset_name="emo", images_root=root)


def import_problems(tmp_path: Path, root: Path, *lines: object) -> list[str]:
    """The problems importing `lines` lists, after checking it wrote nothing."""
    before = row_counts()
    with pytest.raises(ImportFailed) as failed:
        import_lines(tmp_path, root, *lines)
    assert row_counts() == before
    return [str(issue) for issue in failed.value.issues]
