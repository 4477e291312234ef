"""Shared pieces of the click-to-refine mask tests: a scene on disk, the tiny SAM chosen by
settings through its real checkpoint path, and tasks run inline.

Import the fixtures into a test module to use them: scene_sample (the fixture `sample`: the
scene as a sample of a k = 1 dataset), scene_annotator (the fixture `person`: an annotator holding
its lease), grabcut, tiny_sam, inline_tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from PIL import Image

from annotator.celery import app
from annotator.models import Sample
from review.models import Assignment
from review.roles import ANNOTATOR
from tests.factories import DatasetFactory, SampleFactory, UserFactory

SCENE_SIZE = (320, 240)  # width, height
CHECKPOINT_SEED = 1  # the weights the checkpoint holds (build_tiny_sam's default seed is 0)


def write_scene(path: Path, *, seed: int = 0) -> np.ndarray:
    """A noisy red ellipse on a textured background, saved losslessly; returns the pixels."""
    from tests.annotator.adapters.segmenters.scenes import ellipse_scene

    image = ellipse_scene(seed=seed, width=SCENE_SIZE[0], height=SCENE_SIZE[1])[0]
    Image.fromarray(image).save(path)
    return image


def make_scene_sample(images_root: Path, *, name: str = "scene.png", **fields: object) -> Sample:
    write_scene(images_root / name)
    dataset = fields.pop("dataset", None) or DatasetFactory.create(
        images_root=str(images_root), overlap_k=1
    )
    return SampleFactory.create(
        dataset=dataset,
        image_path=name,
        width=SCENE_SIZE[0],
        height=SCENE_SIZE[1],
        **fields,
    )


def make_annotator(*samples: Sample, **fields: object):
    """A user with the annotator role, holding a running lease on each of `samples` (whoever
    may edit a sample's masks is decided by review.policy, as for the sample page)."""
    user = UserFactory.create(**fields)
    user.groups.add(Group.objects.get_or_create(name=ANNOTATOR)[0])
    for sample in samples:
        Assignment.objects.create(
            sample=sample, annotator=user, expires_at=timezone.now() + timedelta(hours=1)
        )
    return user


@pytest.fixture(name="sample")
def scene_sample(images_root: Path) -> Sample:
    return make_scene_sample(images_root)


@pytest.fixture(name="person")
def scene_annotator(sample: Sample):
    return make_annotator(sample)


@pytest.fixture
def grabcut(settings) -> None:
    """The demo's segmenter (needs OpenCV)."""
    pytest.importorskip("cv2")
    settings.SEGMENTER = "grabcut"


def write_tiny_checkpoint(path: Path) -> Path:
    import torch

    from tests.support.tiny_sam import build_tiny_sam

    torch.save(build_tiny_sam(seed=CHECKPOINT_SEED).state_dict(), path)
    return path


@pytest.fixture
def tiny_sam(settings, tmp_path: Path, monkeypatch) -> Path:
    """SEGMENTER=sam with SAM_MODEL_TYPE=tiny and a checkpoint file: the real loading path."""
    pytest.importorskip("torch")
    from annotator.adapters.torch_compat import ensure_torchvision_ops

    ensure_torchvision_ops()
    pytest.importorskip("segment_anything")
    from segment_anything import sam_model_registry

    from tests.support.tiny_sam import build_tiny_sam

    monkeypatch.setitem(sam_model_registry, "tiny", build_tiny_sam)
    checkpoint = write_tiny_checkpoint(tmp_path / "sam_tiny_test.pth")
    settings.SEGMENTER = "sam"
    settings.SAM_MODEL_TYPE = "tiny"
    settings.SAM_CHECKPOINT = checkpoint
    settings.SAM_DEVICE = "cpu"
    settings.SAM_DECODER = "torch"  # stored masks are compared with SamPredictor's, exactly
    settings.EMBEDDING_CACHE_URL = f"file://{tmp_path / 'embeddings'}"
    return checkpoint


def reference_masks(image: np.ndarray, points: list[list[float]]) -> tuple[np.ndarray, ...]:
    """SamPredictor's own answer for the checkpoint's weights: (multimask masks, their scores,
    the single-mask output)."""
    from tests.support.tiny_sam import build_tiny_sam  # first: it makes torchvision importable

    from segment_anything import SamPredictor  # isort: skip

    predictor = SamPredictor(build_tiny_sam(seed=CHECKPOINT_SEED))
    predictor.set_image(image)
    coords = np.array([p[:2] for p in points], dtype=float)
    labels = np.array([p[2] for p in points])
    multi, scores, _ = predictor.predict(
        point_coords=coords, point_labels=labels, multimask_output=True
    )
    single, _, _ = predictor.predict(
        point_coords=coords, point_labels=labels, multimask_output=False
    )
    return multi, scores, single[0]


@pytest.fixture
def inline_tasks(settings) -> Iterator[None]:
    """Tasks run in-process the moment they are sent (as without a broker), even in a run
    where CELERY_BROKER_URL points at Redis."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.CELERY_BROKER_URL = None
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


def shown_overlay(html: str) -> np.ndarray:
    """The mask a state partial draws (the chosen candidate's overlay, else the first machine
    mask's), as booleans."""
    import base64
    import io
    import re

    url = re.search(r'aria-pressed="true" data-png="data:image/png;base64,([^"]+)"', html) or (
        re.search(r'<data class="mask-png" value="data:image/png;base64,([^"]+)"', html)
    )
    assert url is not None, "the partial carries no overlay"
    image = Image.open(io.BytesIO(base64.b64decode(url.group(1))))
    return np.asarray(image) == 1  # palette index 1: the mask, in the element's colour
