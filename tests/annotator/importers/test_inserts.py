"""New samples go in by plain inserts (executemany / COPY); what they store must be what the
ORM upsert path stores for the same line (a re-import goes that way), column for column."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import connection
from PIL import Image

from annotator.importers import inserts
from annotator.lib.rle import encode_mask
from annotator.models import CriticVerdict, Proposal, Region, Sample
from annotator.services.importing import import_samples_file
from tests.annotator.importers.helpers import proposal, record, write_jsonl

pytestmark = pytest.mark.django_db

DES = [round(0.001 * i - 0.5, 6) for i in range(1024)]


def lines(images_root: Path) -> list[dict[str, Any]]:
    mask = np.zeros((48, 64), dtype=bool)
    mask[5:20, 8:30] = True
    Image.fromarray(mask.astype(np.uint8) * 255).save(images_root / "m.png")
    return [
        record(
            "s1",
            "a.jpg",
            source="EmoSet",
            DES=DES,
            proposals=[
                proposal("gpt-4o", "awe", bbox=[4, 4, 40, 40], description="Ünïcode ✓ 雪"),
                proposal(
                    "gemini", "fear", masks=[{"role": "background", "mask": encode_mask(mask)}]
                ),
            ],
            critic={"verdict": "preserve", "emotion": "fear", "reasoning": "r"},
        ),
        record("s2", "b.jpg", emotion="awe", mask_path="m.png", extra={"n": 2**63 - 1, "t": True}),
        record("s3", "c.png"),
        record("s4", "a.jpg", emotion="anger", critic={"verdict": "drop"}),
    ]


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every stored column but ids and times, in a fixed order."""
    samples = Sample.objects.order_by("external_id").values_list(
        "external_id", "image_path", "source", "width", "height", "content_hash", "des",
        "status", "suggested_emotion", "vote_margin", "dispute_reasons", "human_check",
        "gold_emotion",
    )  # fmt: skip
    return {
        "samples": [(*row[:6], bytes(row[6]) if row[6] else None, *row[7:]) for row in samples],
        "proposals": list(
            Proposal.objects.order_by("sample__external_id", "model_name").values_list(
                "sample__external_id",
                "model_name",
                "description",
                "emotion",
                "confidence",
                "background",
                "attribute",
                "subject",
                "distribution",
                "prompt_version",
                "raw",
            )
        ),
        "regions": sorted(
            Region.objects.values_list(
                "sample__external_id",
                "role",
                "phrase",
                "x1",
                "y1",
                "x2",
                "y2",
                "mask",
                "origin",
                "model_name",
                "segmenter",
                "score",
            ),
            key=repr,
        ),
        "verdicts": list(
            CriticVerdict.objects.order_by("sample__external_id").values_list(
                "sample__external_id",
                "model_name",
                "verdict",
                "emotion",
                "reasoning",
                "instructions",
                "checks",
                "prompt_version",
                "round",
            )
        ),
    }


def run(tmp_path: Path, images_root: Path, rows: list[dict[str, Any]]) -> None:
    path = write_jsonl(tmp_path / "samples.jsonl", *rows)
    import_samples_file(path=path, dataset_name="emo", images_root=images_root)


def test_inserted_rows_equal_what_the_upsert_path_stores(tmp_path, images_root, monkeypatch):
    rows = lines(images_root)
    calls: list[int] = []
    real = inserts.insert_prepared

    def counted(**kwargs: Any) -> None:
        calls.append(len(kwargs["lines"]))
        real(**kwargs)

    monkeypatch.setattr("annotator.importers.writer.insert_prepared", counted)
    run(tmp_path, images_root, rows)
    assert calls == [4]  # all four went through the plain inserts
    first = snapshot()
    run(tmp_path, images_root, rows)  # the same lines again: the ORM upsert path
    assert calls == [4]
    assert snapshot() == first
    s1 = first["samples"][0]
    assert struct.unpack("<1024f", s1[6]) == tuple(np.float32(v) for v in DES)
    statuses = {row[0]: row[7] for row in first["samples"]}
    assert statuses == {"s1": "disputed", "s2": "agreed", "s3": "pending", "s4": "dropped"}
    raw = next(row[-1] for row in first["proposals"] if row[0] == "s2")
    assert raw["extra"] == {"n": 2**63 - 1, "t": True}  # kept exactly


def test_a_later_import_into_the_dataset_inserts_only_the_new_ids(tmp_path, images_root):
    run(tmp_path, images_root, [record("s1", "a.jpg", emotion="awe")])
    run(tmp_path, images_root, [record("s1", "a.jpg", emotion="fear"), record("s9", "b.jpg")])
    assert dict(Sample.objects.values_list("external_id", "status")) == {
        "s1": "agreed",
        "s9": "pending",
    }
    assert Proposal.objects.get(sample__external_id="s1").emotion == "fear"


def test_the_import_analyses_its_tables(tmp_path, images_root):
    run(tmp_path, images_root, [record(f"s{i}", "a.jpg", emotion="awe") for i in range(30)])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # reltuples is -1 until a table is first analysed (ANALYZE inside the test's
            # transaction updates the catalog the transaction sees).
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'annotator_sample'")
            assert cursor.fetchone()[0] == 30
        else:
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'annotator_sample'")
            assert cursor.fetchone()[0] > 0
