"""Grounding DINO through groundingdino-py's real loading and inference path (tiny weights)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from annotator.adapters.grounding import Detection, best_per_phrase, get_grounder
from annotator.pipeline.config import GroundingConfig
from annotator.pipeline.errors import PipelineConfigError

PHRASES = ["person", "snow-covered plain"]
# groundingdino, timm and transformers warn about their own deprecated calls.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


def test_no_grounder_without_config_and_checkpoint():
    assert get_grounder(GroundingConfig()) is None
    assert get_grounder(GroundingConfig(config_path=Path("x.py"))) is None


def test_best_per_phrase_keeps_the_top_score():
    detections = [
        Detection("person", (0, 0, 1, 1), 0.4),
        Detection("person", (0, 0, 2, 2), 0.9),
        Detection("sky", (0, 0, 3, 3), 0.5),
    ]
    best = best_per_phrase(detections)
    assert best["person"].score == 0.9 and best["sky"].box == (0, 0, 3, 3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> GroundingConfig:
    pytest.importorskip("torch")
    pytest.importorskip("groundingdino")
    from tests.support.tiny_grounding import make_tiny_grounding

    config = make_tiny_grounding(tmp_path_factory.mktemp("grounding"), seed=0)
    return replace(config, image_short_side=384)  # upstream's 800 is ~4x the work on a CPU


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(512, 768, 3), dtype=np.uint8)


@pytest.mark.ml
@pytest.mark.slow  # a tiny Grounding DINO's forward passes (the file: 35 s of CPU)
def test_every_query_passes_at_threshold_zero_with_boxes_inside_the_image(tiny, image):
    from tests.support.tiny_grounding import NUM_QUERIES

    grounder = get_grounder(replace(tiny, box_threshold=0.0, text_threshold=0.0))
    assert grounder is not None
    detections = grounder.detect(image=image, phrases=[" Person ", *PHRASES[1:], "person"])
    assert 0 < len(detections) <= NUM_QUERIES
    for detection in detections:
        x1, y1, x2, y2 = detection.box
        assert 0 <= x1 <= x2 <= 768 and 0 <= y1 <= y2 <= 512
        assert 0.0 <= detection.score <= 1.0
        assert detection.phrase in PHRASES  # lower-cased, de-duplicated prompt phrases
    scores = [d.score for d in detections]
    assert scores == sorted(scores, reverse=True)
    # Same weights, same image: same answer, also from a freshly loaded model.
    assert grounder.detect(image=image, phrases=PHRASES) == detections
    from annotator.adapters.grounding import GroundingDinoGrounder

    reloaded = GroundingDinoGrounder(config=replace(tiny, box_threshold=0.0, text_threshold=0.0))
    assert reloaded.detect(image=image, phrases=PHRASES) == detections


@pytest.mark.ml
@pytest.mark.slow  # a tiny Grounding DINO's forward passes (the file: 35 s of CPU)
def test_thresholds_filter_detections(tiny, image):
    everything = get_grounder(replace(tiny, box_threshold=0.0, text_threshold=0.0))
    assert everything is not None
    all_detections = everything.detect(image=image, phrases=PHRASES)
    cut = float(np.median([d.score for d in all_detections]))
    some = get_grounder(replace(tiny, box_threshold=cut, text_threshold=0.0))
    assert some is not None
    kept = some.detect(image=image, phrases=PHRASES)
    assert kept == [d for d in all_detections if d.score > cut]
    assert 0 < len(kept) < len(all_detections)
    none = get_grounder(replace(tiny, box_threshold=1.01, text_threshold=1.01))
    assert none is not None and none.detect(image=image, phrases=PHRASES) == []
    assert everything.detect(image=image, phrases=["  ", ""]) == []


@pytest.mark.ml
def test_a_hub_name_for_the_text_encoder_is_refused_before_loading(tiny, tmp_path):
    assert tiny.config_path is not None
    text = tiny.config_path.read_text()
    stock = tmp_path / "stock.py"
    hub = 'text_encoder_type = "bert-base-uncased"'
    lines = [hub if line.startswith("text_encoder_type") else line for line in text.splitlines()]
    stock.write_text("\n".join(lines))
    with pytest.raises(PipelineConfigError, match=r"grounding\.text_encoder"):
        get_grounder(replace(tiny, config_path=stock, text_encoder=None))


@pytest.mark.ml
def test_a_checkpoint_holding_objects_is_not_unpickled(tiny, tmp_path):
    import argparse

    import torch

    unsafe = tmp_path / "unsafe.pth"
    torch.save({"model": {}, "args": argparse.Namespace(lr=1)}, unsafe)
    with pytest.raises(PipelineConfigError, match="holds more than tensors"):
        get_grounder(replace(tiny, checkpoint=unsafe))
    with pytest.raises(PipelineConfigError, match=r"grounding.checkpoint: .*absent.pth does not"):
        get_grounder(replace(tiny, checkpoint=tmp_path / "absent.pth"))
