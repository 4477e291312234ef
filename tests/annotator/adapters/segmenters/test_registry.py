from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from annotator.adapters.segmenters import (
    MaskCandidate,
    Prompt,
    get_segmenter,
    register_segmenter,
    segmenter_needs_embedding,
)


@pytest.fixture
def no_checkpoint(settings, tmp_path: Path):
    settings.SEGMENTER = "auto"
    settings.SAM_CHECKPOINT = None
    settings.DATA_DIR = tmp_path
    return settings


def test_whether_an_embedding_is_needed_is_known_without_building_the_segmenter(
    no_checkpoint, tmp_path
):
    assert segmenter_needs_embedding() is False  # auto without weights: GrabCut
    assert segmenter_needs_embedding("sam") is segmenter_needs_embedding("sam-onnx") is True
    no_checkpoint.SAM_CHECKPOINT = tmp_path / "absent.pth"  # never opened here
    assert segmenter_needs_embedding() is True
    assert get_segmenter("grabcut").needs_embedding is segmenter_needs_embedding("grabcut")


def test_without_a_checkpoint_auto_picks_grabcut(no_checkpoint):
    segmenter = get_segmenter()
    assert segmenter.name == "grabcut"
    assert segmenter.needs_embedding is False
    assert get_segmenter() is segmenter  # built once per process


def test_an_unknown_segmenter_is_named_in_the_error(no_checkpoint):
    no_checkpoint.SEGMENTER = "magic"
    with pytest.raises(ImproperlyConfigured, match=r"SEGMENTER='magic'.*grabcut"):
        get_segmenter()


def test_sam_without_a_checkpoint_is_a_configuration_error(no_checkpoint):
    pytest.importorskip("torch")
    with pytest.raises(ImproperlyConfigured, match="SAM_CHECKPOINT"):
        get_segmenter("sam")


class _Constant:
    name = "constant"
    needs_embedding = False

    def prepare(self, *, image: np.ndarray, image_key: str) -> bool:
        return True

    def is_prepared(self, *, image_key):
        return True

    def segment(self, *, image, image_key, prompt, multimask=True) -> list[MaskCandidate]:
        return [MaskCandidate(mask=np.ones(image.shape[:2], dtype=bool), score=1.0)]


def test_registered_segmenters_can_be_chosen_by_settings(no_checkpoint):
    register_segmenter("constant", _Constant)
    no_checkpoint.SEGMENTER = "constant"
    segmenter = get_segmenter()
    assert isinstance(segmenter, _Constant)
    (candidate,) = segmenter.segment(
        image=np.zeros((4, 5, 3), np.uint8), image_key="k", prompt=Prompt(box=(0, 0, 1, 1))
    )
    assert candidate.mask.shape == (4, 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"points": [(1.0, 2.0)], "labels": []}, "1 points but 0 labels"),
        ({"points": [(1.0, 2.0)], "labels": [2]}, "1 .add. or 0 .remove."),
        ({}, "box or at least one click"),
    ],
)
def test_malformed_prompts_are_refused(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        Prompt(**kwargs)


# SAM through the registry: the real loading path, with the tiny architecture registered -------


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, monkeypatch) -> Path:
    torch = pytest.importorskip("torch")
    from annotator.adapters.torch_compat import ensure_torchvision_ops

    ensure_torchvision_ops()
    pytest.importorskip("segment_anything")
    from segment_anything import sam_model_registry

    from tests.support.tiny_sam import build_tiny_sam

    monkeypatch.setitem(sam_model_registry, "tiny", build_tiny_sam)
    path = tmp_path / "sam_tiny_0001.pth"
    torch.save(build_tiny_sam(seed=1).state_dict(), path)
    return path


@pytest.mark.ml
def test_with_a_checkpoint_auto_picks_sam_with_the_checkpoint_weights(
    no_checkpoint, tiny_checkpoint: Path, tmp_path: Path
):
    from segment_anything import SamPredictor

    from tests.annotator.adapters.segmenters.scenes import ellipse_scene
    from tests.support.tiny_sam import build_tiny_sam

    no_checkpoint.SAM_CHECKPOINT = tiny_checkpoint
    no_checkpoint.SAM_MODEL_TYPE = "tiny"
    no_checkpoint.SAM_DEVICE = "auto"
    no_checkpoint.SAM_DECODER = "torch"  # the exact comparison below is with torch's predict
    no_checkpoint.EMBEDDING_CACHE_URL = ""
    segmenter = get_segmenter()
    assert (segmenter.name, segmenter.needs_embedding) == ("sam-tiny", True)

    image = ellipse_scene(seed=2)[0]
    prompt = Prompt(points=[(100.0, 80.0), (200.0, 150.0)], labels=[1, 1])
    assert segmenter.prepare(image=image, image_key="h") is False
    candidates = segmenter.segment(image=image, image_key="h", prompt=prompt, multimask=False)
    reference = SamPredictor(build_tiny_sam(seed=1))  # the checkpoint's weights, not seed 0's
    reference.set_image(image)
    masks, _, _ = reference.predict(
        point_coords=np.array(prompt.points),
        point_labels=np.array(prompt.labels),
        multimask_output=False,
    )
    assert np.array_equal(candidates[0].mask, masks[0])
    # The default cache lives under DATA_DIR and is keyed by model type and checkpoint name.
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 1


@pytest.mark.ml
def test_sam_onnx_exports_its_decoder_under_the_data_dir(
    no_checkpoint, tiny_checkpoint: Path, tmp_path: Path
):
    pytest.importorskip("onnxruntime")
    no_checkpoint.SEGMENTER = "sam-onnx"
    no_checkpoint.SAM_CHECKPOINT = tiny_checkpoint
    no_checkpoint.SAM_MODEL_TYPE = "tiny"
    segmenter = get_segmenter()
    assert segmenter.name == "sam-tiny-onnx"
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == ["sam-tiny-sam_tiny_0001.onnx"]


@pytest.mark.ml
def test_on_a_cpu_sam_decodes_with_onnxruntime_by_default(
    no_checkpoint, tiny_checkpoint: Path, tmp_path: Path
):
    pytest.importorskip("onnxruntime")
    from segment_anything import SamPredictor

    from tests.annotator.adapters.segmenters.scenes import ellipse_scene
    from tests.support.tiny_sam import build_tiny_sam

    no_checkpoint.SAM_CHECKPOINT = tiny_checkpoint
    no_checkpoint.SAM_MODEL_TYPE = "tiny"
    no_checkpoint.SAM_DEVICE = "cpu"
    segmenter = get_segmenter()  # SEGMENTER=auto, SAM_DECODER=auto
    assert segmenter.name == "sam-tiny-onnx"
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == ["sam-tiny-sam_tiny_0001.onnx"]

    image = ellipse_scene(seed=2)[0]
    prompt = Prompt(points=[(100.0, 80.0), (200.0, 150.0)], labels=[1, 1])
    candidates = segmenter.segment(image=image, image_key="h", prompt=prompt, multimask=False)
    reference = SamPredictor(build_tiny_sam(seed=1))
    reference.set_image(image)
    masks, _, _ = reference.predict(
        point_coords=np.array(prompt.points),
        point_labels=np.array(prompt.labels),
        multimask_output=False,
    )
    assert (candidates[0].mask == masks[0]).mean() >= 0.999


@pytest.mark.ml
@pytest.mark.parametrize(
    ("requested", "device", "onnxruntime", "chosen"),
    [
        ("auto", "cpu", True, "onnx"),
        ("auto", "cpu", False, "torch"),  # onnxruntime not installed
        ("auto", "cuda", True, "torch"),  # a GPU decodes faster in torch
        ("torch", "cpu", True, "torch"),
        ("onnx", "cuda", True, "onnx"),
    ],
)
def test_the_sam_decoder_setting(
    monkeypatch, tiny_checkpoint: Path, requested: str, device: str, onnxruntime: bool, chosen: str
):
    from annotator.adapters.segmenters import sam

    monkeypatch.setattr(sam, "onnxruntime_installed", lambda: onnxruntime)
    assert sam.decoder_for(requested, device=device) == chosen


@pytest.mark.ml
def test_an_unknown_sam_decoder_names_the_setting(tiny_checkpoint: Path):
    from annotator.adapters.segmenters import sam

    with pytest.raises(ImproperlyConfigured, match=r"SAM_DECODER='fast': use auto, torch or onnx"):
        sam.decoder_for("fast", device="cpu")


@pytest.mark.ml
def test_sam_settings_errors_name_the_setting(no_checkpoint, tiny_checkpoint: Path):
    no_checkpoint.SAM_CHECKPOINT = tiny_checkpoint
    no_checkpoint.SAM_MODEL_TYPE = "vit_x"
    with pytest.raises(ImproperlyConfigured, match=r"SAM_MODEL_TYPE='vit_x'.*vit_b"):
        get_segmenter()
    no_checkpoint.SAM_MODEL_TYPE = "tiny"
    no_checkpoint.SAM_CHECKPOINT = tiny_checkpoint.with_name("missing.pth")
    with pytest.raises(ImproperlyConfigured, match=r"missing\.pth: no such file"):
        get_segmenter()


@pytest.mark.ml
@pytest.mark.slow
def test_vit_b_builds_from_segment_anythings_registry(tiny_checkpoint: Path):
    from annotator.adapters.segmenters.sam import SamSegmenter, build_sam_model

    segmenter = SamSegmenter.from_checkpoint(
        model_type="vit_b", checkpoint=None, device="cpu", cache=None
    )
    assert segmenter.name == "sam-vit_b"
    encoder = segmenter.model.prompt_encoder
    assert (encoder.embed_dim, encoder.image_embedding_size) == (256, (64, 64))
    # A checkpoint for another architecture is refused with a clear message.
    with pytest.raises(ImproperlyConfigured, match="does not fit SAM_MODEL_TYPE=vit_b"):
        build_sam_model(model_type="vit_b", checkpoint=tiny_checkpoint, device="cpu")
