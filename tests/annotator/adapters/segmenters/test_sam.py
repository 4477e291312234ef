"""The SAM adapter against segment_anything's own SamPredictor, with a tiny random-weight SAM."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from annotator.adapters.torch_compat import ensure_torchvision_ops

ensure_torchvision_ops()  # before segment_anything imports torchvision
pytest.importorskip("segment_anything")

from annotator.adapters.segmenters import Prompt  # noqa: E402
from annotator.adapters.segmenters.sam import SamSegmenter  # noqa: E402
from annotator.lib.embedding_cache import DiskEmbeddingCache  # noqa: E402
from tests.annotator.adapters.segmenters.scenes import PROMPTS, ellipse_scene, iou  # noqa: E402
from tests.support.tiny_sam import build_tiny_sam  # noqa: E402

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def sam():
    return build_tiny_sam(seed=0)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return ellipse_scene(seed=0)[0]


def _predictor_masks(sam, image: np.ndarray, prompt: Prompt) -> list[np.ndarray]:
    """What SAM's own predictor gives, in the order the adapter promises."""
    from segment_anything import SamPredictor

    predictor = SamPredictor(sam)
    predictor.set_image(image)
    prompts = {
        "point_coords": np.array(prompt.points) if prompt.points else None,
        "point_labels": np.array(prompt.labels) if prompt.points else None,
        "box": np.array(prompt.box) if prompt.box else None,
    }
    multi, scores, _ = predictor.predict(multimask_output=True, **prompts)
    by_score = [multi[i] for i in np.argsort(-scores, kind="stable")]
    ambiguous = len(prompt.points) + (2 if prompt.box else 0) <= 2
    if ambiguous:
        return by_score
    single, _, _ = predictor.predict(multimask_output=False, **prompts)
    return [single[0], *by_score[:2]]


class _EncoderRuns:
    """Counts forward passes of the real image encoder."""

    def __init__(self, sam) -> None:
        self.count = 0
        self._handle = sam.image_encoder.register_forward_hook(self._hook)

    def _hook(self, *_args) -> None:
        self.count += 1

    def close(self) -> None:
        self._handle.remove()


@pytest.fixture
def encoder_runs(sam):
    runs = _EncoderRuns(sam)
    yield runs
    runs.close()


@pytest.mark.parametrize("prompt_name", list(PROMPTS))
def test_masks_equal_sam_predictor_output_bit_for_bit(sam, image, prompt_name: str):
    prompt = PROMPTS[prompt_name]
    segmenter = SamSegmenter(sam, name="sam-tiny", cache=None)
    candidates = segmenter.segment(image=image, image_key="img", prompt=prompt)
    expected = _predictor_masks(sam, image, prompt)
    assert len(candidates) == 3  # as SamPredictor.predict makes: one shown, two one key away
    for candidate, mask in zip(candidates, expected, strict=True):
        assert candidate.mask.dtype == bool
        assert np.array_equal(candidate.mask, mask)
    alternatives = candidates if prompt_name in ("one click", "box") else candidates[1:]
    assert [c.score for c in alternatives] == sorted((c.score for c in alternatives), reverse=True)


def test_multimask_false_returns_only_the_recommended_mask(sam, image):
    segmenter = SamSegmenter(sam, name="sam-tiny", cache=None)
    prompt = PROMPTS["clicks"]
    full = segmenter.segment(image=image, image_key="img", prompt=prompt)
    (only,) = segmenter.segment(image=image, image_key="img", prompt=prompt, multimask=False)
    assert np.array_equal(only.mask, full[0].mask)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_cached_embedding_restores_without_encoding(
    sam, image, tmp_path: Path, encoder_runs, dtype
):
    cache = DiskEmbeddingCache(tmp_path, max_bytes=10**7)
    first = SamSegmenter(sam, name="sam-tiny", cache=cache, cache_dtype=dtype)
    assert first.prepare(image=image, image_key="img") is False  # cold: encoded
    assert encoder_runs.count == 1
    fresh = {
        name: first.segment(image=image, image_key="img", prompt=p) for name, p in PROMPTS.items()
    }

    # Another worker: its own segmenter, the same cache.
    second = SamSegmenter(sam, name="sam-tiny", cache=cache, cache_dtype=dtype)
    assert second.prepare(image=image, image_key="img") is True
    assert encoder_runs.count == 1
    for name, prompt in PROMPTS.items():
        restored = second.segment(image=image, image_key="img", prompt=prompt)
        for a, b in zip(restored, fresh[name], strict=True):
            if dtype is np.float32:
                assert np.array_equal(a.mask, b.mask)
            else:
                assert iou(a.mask, b.mask) >= 0.999
    assert encoder_runs.count == 1


class _CountingCache(DiskEmbeddingCache):
    gets = 0

    def get(self, key: str) -> np.ndarray | None:
        self.gets += 1
        return super().get(key)


def test_consecutive_clicks_on_one_image_touch_neither_encoder_nor_cache(
    sam, image, tmp_path: Path, encoder_runs
):
    cache = _CountingCache(tmp_path, max_bytes=10**7)
    segmenter = SamSegmenter(sam, name="sam-tiny", cache=cache)
    for prompt in PROMPTS.values():
        segmenter.segment(image=image, image_key="img", prompt=prompt)
    assert (encoder_runs.count, cache.gets) == (1, 1)
    assert segmenter.prepare(image=image, image_key="img") is True
    assert (encoder_runs.count, cache.gets) == (1, 1)


def test_cache_keys_separate_weights(sam, image, tmp_path: Path, encoder_runs):
    cache = DiskEmbeddingCache(tmp_path, max_bytes=10**7)
    SamSegmenter(sam, name="sam-tiny", cache=cache, weights_id="a").prepare(
        image=image, image_key="img"
    )
    other = SamSegmenter(sam, name="sam-tiny", cache=cache, weights_id="b")
    assert other.prepare(image=image, image_key="img") is False
    assert encoder_runs.count == 2


def test_a_cached_array_of_the_wrong_shape_is_recomputed(sam, image, tmp_path: Path):
    cache = DiskEmbeddingCache(tmp_path, max_bytes=10**7)
    cache.put("sam-tiny:img", np.zeros((1, 3, 4, 4), dtype=np.float16))
    segmenter = SamSegmenter(sam, name="sam-tiny", cache=cache)
    assert segmenter.prepare(image=image, image_key="img") is False
    candidates = segmenter.segment(image=image, image_key="img", prompt=PROMPTS["box"])
    assert np.array_equal(candidates[0].mask, _predictor_masks(sam, image, PROMPTS["box"])[0])


def test_threads_clicking_on_different_images_get_their_own_masks(sam, tmp_path: Path):
    images = {f"img{seed}": ellipse_scene(seed=seed)[0] for seed in range(3)}
    prompt = PROMPTS["clicks"]
    expected = {key: _predictor_masks(sam, img, prompt)[0] for key, img in images.items()}
    # float32 in the cache, so that a restored image's masks are bit-exact too.
    cache = DiskEmbeddingCache(tmp_path, max_bytes=10**7)
    segmenter = SamSegmenter(sam, name="sam-tiny", cache=cache, cache_dtype=np.float32)
    failures: list[str] = []

    def click(key: str) -> None:
        for _ in range(15):
            (mask,) = segmenter.segment(
                image=images[key], image_key=key, prompt=prompt, multimask=False
            )
            if not np.array_equal(mask.mask, expected[key]):
                failures.append(key)

    threads = [threading.Thread(target=click, args=(key,)) for key in images for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_an_image_that_is_not_rgb_uint8_is_refused(sam):
    segmenter = SamSegmenter(sam, name="sam-tiny", cache=None)
    with pytest.raises(ValueError, match="uint8 RGB"):
        segmenter.prepare(image=np.zeros((10, 10), dtype=np.uint8), image_key="x")
