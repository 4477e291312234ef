"""A dataset whose samples have real images, DES, boxes, machine masks and a person's mask:
what the COCO and JSONL export tests read (tests/conftest.py's images_root holds a.jpg, b.jpg
and c.png, each 64x48)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

from annotator.lib.rle import encode_mask
from annotator.models import CriticVerdict, Dataset, Region, Sample
from review.models import Adjudication, MaskEdit
from tests import factories

WIDTH, HEIGHT = 64, 48
T1 = datetime(2025, 3, 2, 8, 30, 0, tzinfo=UTC)


@dataclass
class Rich:
    dataset: Dataset
    adjudicated: Sample  # boxes, a machine mask, a person's mask, DES
    agreed: Sample  # two models agree; an imported box; non-ASCII text
    bare: Sample  # agreed by a classifier alone: no triplet, no confidence, no regions
    machine_mask: Region
    person_mask: MaskEdit
    box_only: Region


def des_values() -> np.ndarray:
    """1024 float32 values that are hard to write as text: extremes, subnormals, signed zero,
    values needing all 9 digits, and random bit patterns."""
    special = np.array(
        [0.0, -0.0, 1.0, -1.0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 0.1,
         1e-7, 16777217.0, 0.33333334, 2.0**-149 * 3, 123456.79],
        dtype="<f4",
    )  # fmt: skip
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, size=4096, dtype=np.uint64).astype(np.uint32).view("<f4")
    finite = bits[np.isfinite(bits)]
    normal = rng.standard_normal(512).astype("<f4") * np.float32(0.05)
    values = np.concatenate([special, normal, finite])[:1024]
    assert values.shape == (1024,)
    return values.astype("<f4")


def blob(*, top: int, left: int, height: int, width: int) -> np.ndarray:
    """An ellipse inside the given rectangle of a HEIGHTxWIDTH image."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    cy, cx = top + height / 2, left + width / 2
    return ((yy + 0.5 - cy) / (height / 2)) ** 2 + ((xx + 0.5 - cx) / (width / 2)) ** 2 <= 1


def _sample(dataset: Dataset, **kw: Any) -> Sample:
    return cast(Sample, factories.SampleFactory(dataset=dataset, width=WIDTH, height=HEIGHT, **kw))


def make_rich(*, images_root: Path, name: str = "rich") -> Rich:
    dataset = cast(
        Dataset,
        factories.DatasetFactory(
            name=name,
            images_root=str(images_root),
            licence="CC BY 4.0",
            attribution="Photos: the EmoReview test suite",
            model_weights={"gemini": 1.5},
        ),
    )
    adjudicated = _sample(
        dataset,
        external_id="ev-000123",
        image_path="a.jpg",
        source="EmoSet",
        status=Sample.Status.ADJUDICATED,
        des=des_values().tobytes(),
    )
    factories.ProposalFactory(sample=adjudicated, model_name="gpt-4o", emotion="awe",
                              description="A lone hiker faces a vast glacier.")  # fmt: skip
    factories.ProposalFactory(sample=adjudicated, model_name="gemini", emotion="fear")
    factories.AdjudicationFactory(
        sample=adjudicated, emotion="awe", confidence=9.5, background="white plain",
        attribute="tiny, still", subject="hiker",
    )  # fmt: skip
    box_only = cast(Region, factories.RegionFactory(
        sample=adjudicated, role=Region.Role.SUBJECT, phrase="hiker", origin=Region.Origin.MODEL,
        model_name="grounding-dino", score=0.61, x1=4.5, y1=6.0, x2=30.25, y2=40.0,
    ))  # fmt: skip
    plain = encode_mask(blob(top=24, left=2, height=24, width=60))
    machine_mask = cast(Region, factories.RegionFactory(
        sample=adjudicated, role=Region.Role.BACKGROUND, phrase="white plain",
        origin=Region.Origin.MODEL, model_name="grounding-dino", score=0.8, segmenter="sam",
        x1=0.0, y1=20.0, x2=64.0, y2=48.0, mask=plain,
    ))  # fmt: skip
    person_mask = MaskEdit.objects.create(
        sample=adjudicated, role=Region.Role.ATTRIBUTE, seq=1, status="done", accepted_at=T1,
        segmenter="grabcut", chosen=1,
        candidates=[
            {"rle": encode_mask(blob(top=0, left=0, height=5, width=5)), "score": 0.5},
            {"rle": encode_mask(blob(top=8, left=10, height=20, width=14)), "score": 0.93},
        ],
    )  # fmt: skip
    agreed = _sample(dataset, external_id="881", image_path="b.jpg", source="Flickr",
                     status=Sample.Status.AGREED, suggested_emotion="contentment")  # fmt: skip
    for model, confidence in (("gpt-4o", 6.0), ("gemini", 9.0)):
        factories.ProposalFactory(
            sample=agreed, model_name=model, emotion="contentment", confidence=confidence,
            description=f"{model}: Ein Mädchen lächelt — 😊 \"quoted\"\nnew line",
            background="Straße", attribute="ruhig", subject="Mädchen",
        )  # fmt: skip
    factories.RegionFactory(sample=agreed, role=Region.Role.SUBJECT, phrase="Mädchen",
                            model_name="gemini", x1=10.0, y1=10.0, x2=50.0, y2=40.0)  # fmt: skip
    bare = _sample(dataset, external_id="web-0042", image_path="c.png", source="",
                   status=Sample.Status.AGREED, suggested_emotion="sadness")  # fmt: skip
    factories.ProposalFactory(sample=bare, model_name="emovit", emotion="sadness", confidence=None,
                              description="", background="", attribute="", subject="")  # fmt: skip
    return Rich(dataset, adjudicated, agreed, bare, machine_mask, person_mask, box_only)


def add_undecided(rich: Rich) -> dict[str, Sample]:
    """A disputed, a dropped and a pending sample (only --scope all exports them)."""
    dataset = rich.dataset
    disputed = _sample(dataset, external_id="d-1", image_path="a.jpg", status="disputed")
    factories.ProposalFactory(sample=disputed, model_name="gpt-4o", emotion="awe")
    factories.ProposalFactory(sample=disputed, model_name="gemini", emotion="fear")
    dropped = _sample(dataset, external_id="x-1", image_path="b.jpg", status="dropped")
    factories.ProposalFactory(sample=dropped, model_name="gpt-4o", emotion="anger")
    factories.CriticVerdictFactory(
        sample=dropped, verdict=CriticVerdict.Verdict.DROP, emotion="",
        reasoning="The image is a screenshot of text.", model_name="critic-x",
    )  # fmt: skip
    pending = _sample(dataset, external_id="p-1", image_path="c.png", status="pending", des=None)
    return {"disputed": disputed, "dropped": dropped, "pending": pending}


def final_adjudication(sample: Sample) -> Adjudication:
    return Adjudication.objects.filter(sample=sample).latest("version")
