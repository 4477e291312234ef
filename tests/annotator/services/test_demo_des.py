"""The demo's stand-in DES: fixed, unit length, and near for images that look alike."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

from annotator.importers.fields import DES_SIZE
from annotator.services.demo import DEMO_DIR
from annotator.services.demo_des import projection, stand_in_des


def test_the_vector_is_1024_unit_float32_and_the_same_on_every_call():
    path = DEMO_DIR / "images" / "chelsea.jpg"

    first, second = stand_in_des(path), stand_in_des(path, matrix=projection())

    assert len(first) == DES_SIZE and first == second
    vector = np.asarray(first, dtype=np.float32)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    assert np.array_equal(vector.astype("<f4").astype(np.float64), np.asarray(first))


def test_a_resized_slightly_brighter_copy_is_nearest_to_its_original(tmp_path):
    matrix = projection()
    images = sorted((DEMO_DIR / "images").iterdir())
    vectors = {p.name: np.asarray(stand_in_des(p, matrix=matrix)) for p in images}
    for original in images[:4]:
        copy = tmp_path / original.name
        with Image.open(original) as image:
            smaller = image.convert("RGB").resize((image.width // 2, image.height // 2))
            ImageEnhance.Brightness(smaller).enhance(1.1).save(copy, quality=80)
        probe = np.asarray(stand_in_des(copy, matrix=matrix))

        nearest = max(vectors, key=lambda name: float(vectors[name] @ probe))

        assert nearest == original.name
