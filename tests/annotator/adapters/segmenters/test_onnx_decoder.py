"""The onnxruntime decoder against the torch one, on the tiny SAM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from annotator.adapters.torch_compat import ensure_torchvision_ops

ensure_torchvision_ops()
pytest.importorskip("segment_anything")

from annotator.adapters.segmenters.onnx_decoder import OnnxDecoder  # noqa: E402
from annotator.adapters.segmenters.sam import SamSegmenter  # noqa: E402
from tests.annotator.adapters.segmenters.scenes import PROMPTS, ellipse_scene  # noqa: E402
from tests.support.tiny_sam import build_tiny_sam  # noqa: E402

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def segmenters(tmp_path_factory) -> tuple[SamSegmenter, SamSegmenter, Path]:
    sam = build_tiny_sam(seed=0)
    path = tmp_path_factory.mktemp("onnx") / "sam-tiny.onnx"
    decoder = OnnxDecoder.exported(sam, path=path)  # exports: the file is not there yet
    onnx = SamSegmenter(sam, name="sam-tiny-onnx", cache=None, decoder=decoder)
    return onnx, SamSegmenter(sam, name="sam-tiny", cache=None), path


# Landscape, portrait and square: none has the shape of the export's example input.
@pytest.mark.parametrize("shape", [(240, 320), (300, 200), (150, 150)], ids=str)
@pytest.mark.parametrize("prompt_name", list(PROMPTS))
def test_onnx_masks_match_the_torch_decoder(segmenters, prompt_name: str, shape):
    onnx, reference, path = segmenters
    assert path.is_file()
    image = ellipse_scene(seed=1, height=shape[0], width=shape[1])[0]
    key = f"img-{shape}"
    prompt = PROMPTS[prompt_name]
    got = onnx.segment(image=image, image_key=key, prompt=prompt)
    expected = reference.segment(image=image, image_key=key, prompt=prompt)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-4)
        assert np.mean(a.mask == b.mask) >= 0.9999


def test_an_exported_file_is_reused(segmenters):
    _, _, path = segmenters
    before = path.stat().st_mtime_ns
    OnnxDecoder.exported(build_tiny_sam(seed=0), path=path)
    assert path.stat().st_mtime_ns == before
    assert not list(path.parent.glob("*.tmp"))
