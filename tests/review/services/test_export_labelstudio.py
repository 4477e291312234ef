"""Label Studio export, checked with Label Studio's own SDK: its LabelInterface validates the
config and every prediction and annotation against it, its brush decoder turns our RLE back
into the app's masks pixel for pixel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pytest
from django.contrib.auth.models import User

from annotator.lib.rle import decode_mask, encode_mask
from annotator.models import CriticVerdict, Dataset, Region, Sample
from review.models import Annotation, MaskEdit
from review.services.export_formats import FORMATS, ExportChunk
from review.services.labelstudio_config import build_config
from review.services.labelstudio_rle import brush_rle
from tests import factories
from tests.review.services.soft_labels import make_fit

sdk = pytest.importorskip(
    "label_studio_sdk",
    reason="label-studio-sdk is not installed (pip install --no-deps label-studio-sdk; "
    "docs/formats.md, Label Studio)",
)
from label_studio_sdk.converter.brush import decode_rle, mask2rle  # noqa: E402
from label_studio_sdk.label_interface import LabelInterface  # noqa: E402

W, H = 64, 48
T1 = datetime(2025, 3, 2, 8, 30, tzinfo=UTC)


def blob(*, top: int, left: int, height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    cy, cx = top + height / 2, left + width / 2
    return ((yy + 0.5 - cy) / (height / 2)) ** 2 + ((xx + 0.5 - cx) / (width / 2)) ** 2 <= 1


@dataclass
class World:
    dataset: Dataset
    adjudicated: Sample
    agreed: Sample
    disputed: Sample
    adjudicator: User
    ann: User
    bob: User
    machine_mask: np.ndarray
    ann_mask: np.ndarray


def _user(username: str, email: str = "") -> User:
    return cast(User, factories.UserFactory(username=username, email=email))


def _sample(dataset: Dataset, **kw: Any) -> Sample:
    return cast(Sample, factories.SampleFactory(dataset=dataset, width=W, height=H, **kw))


@pytest.fixture
def world(db) -> World:
    dataset = cast(Dataset, factories.DatasetFactory(name="ls", images_root="/srv/emoverse"))
    adjudicator, ann = _user("judge", "judge@example.org"), _user("ann")
    bob = _user("bob", "bob@example.org")
    adjudicated = _sample(dataset, image_path="sub dir/a.jpg", status=Sample.Status.ADJUDICATED)
    factories.ProposalFactory(sample=adjudicated, model_name="gpt-4o", emotion="awe",
                              confidence=8.0, description="A hiker & a glacier.")  # fmt: skip
    factories.ProposalFactory(sample=adjudicated, model_name="gemini", emotion="fear",
                              confidence=None)  # fmt: skip
    factories.AdjudicationFactory(
        sample=adjudicated, annotator=adjudicator, method="adjudicator", emotion="awe",
        confidence=9.5, background="white plain", attribute="still", subject="hiker",
        notes="clear case",
    )  # fmt: skip
    factories.RegionFactory(sample=adjudicated, role="subject", phrase="hiker", origin="model",
                            model_name="grounding-dino", score=0.61,
                            x1=4.5, y1=6.0, x2=30.25, y2=40.0)  # fmt: skip
    machine_mask = blob(top=24, left=2, height=24, width=60)
    factories.RegionFactory(sample=adjudicated, role="background", phrase="white plain",
                            origin="model", model_name="grounding-dino", score=0.8,
                            x1=0.0, y1=20.0, x2=64.0, y2=48.0,
                            mask=encode_mask(machine_mask))  # fmt: skip
    ann_mask = blob(top=8, left=10, height=20, width=14)
    MaskEdit.objects.create(
        sample=adjudicated, role=Region.Role.ATTRIBUTE, author=ann, seq=1, status="done",
        accepted_at=T1, segmenter="grabcut", chosen=1,
        candidates=[{"rle": encode_mask(blob(top=0, left=0, height=5, width=5)), "score": 0.5},
                    {"rle": encode_mask(ann_mask), "score": 0.93}],
    )  # fmt: skip
    Annotation.objects.create(sample=adjudicated, annotator=ann, emotion="awe", confidence=7.5,
                              subject="hiker", notes="the ice", time_spent_ms=4200)  # fmt: skip
    Annotation.objects.create(sample=adjudicated, annotator=bob, emotion="fear", confidence=6.0,
                              source="import")  # fmt: skip
    agreed = _sample(dataset, image_path="b.jpg", status=Sample.Status.AGREED,
                     suggested_emotion="contentment")  # fmt: skip
    factories.ProposalFactory(sample=agreed, model_name="gpt-4o", emotion="contentment")
    disputed = _sample(dataset, image_path="c.png", status=Sample.Status.DISPUTED)
    factories.ProposalFactory(sample=disputed, model_name="gpt-4o", emotion="awe")
    factories.ProposalFactory(sample=disputed, model_name="gemini", emotion="rapture")
    factories.CriticVerdictFactory(sample=disputed, verdict=CriticVerdict.Verdict.REVISE,
                                   emotion="awe", model_name="critic-x",
                                   reasoning="The gaze is upward.")  # fmt: skip
    return World(dataset, adjudicated, agreed, disputed, adjudicator, ann, bob, machine_mask,
                  ann_mask)  # fmt: skip


def export(dataset: Dataset, scope: str = "all") -> tuple[list[dict[str, Any]], list[ExportChunk]]:
    chunks = list(FORMATS["labelstudio"].chunks(dataset=dataset, scope=scope))
    tasks = json.loads(b"".join(c.data for c in chunks))
    return tasks, chunks


def by_sample(tasks: list[dict[str, Any]], sample: Sample) -> dict[str, Any]:
    return next(t for t in tasks if t["data"]["meta"]["sample_id"] == sample.pk)


def interface(dataset: Dataset) -> LabelInterface:
    from review.services.export_labelstudio import labelstudio_config_xml

    li = LabelInterface(labelstudio_config_xml(dataset=dataset))
    li.validate()  # raises on a config Label Studio would refuse
    return li


def test_every_prediction_and_annotation_is_valid_for_the_config(world: World) -> None:
    li = interface(world.dataset)
    tasks, _ = export(world.dataset)
    assert len(tasks) == 3
    objects = [obj.value_name for obj in li.objects if obj.value_is_variable]
    for task in tasks:
        assert all(task["data"].get(name) is not None for name in objects)
        for item in task["predictions"] + task["annotations"]:
            assert li.validate_prediction(item, return_errors=True) == []
            assert li.validate_annotation(item)
    # The validator is not vacuous: a label the config lacks, or a box off the image, fails.
    prediction = json.loads(json.dumps(by_sample(tasks, world.adjudicated)["predictions"][0]))
    prediction["result"][0]["value"]["choices"] = ["bliss"]
    assert li.validate_prediction(prediction, return_errors=True)
    boxed = next(
        p
        for p in by_sample(tasks, world.adjudicated)["predictions"]
        if p["model_version"] == "grounding-dino"
    )
    boxed = json.loads(json.dumps(boxed))
    boxed["result"][0]["value"]["x"] = 140.0
    assert li.validate_prediction(boxed, return_errors=True)


def test_the_consensus_prediction_is_valid_for_the_config(world: World) -> None:
    li = interface(world.dataset)
    make_fit(world.dataset, {world.adjudicated: [0.0, 0.8, 0.2, 0, 0, 0, 0, 0],
                             world.disputed: [0.0, 0.55, 0, 0, 0, 0, 0.45, 0]})  # fmt: skip
    tasks, _ = export(world.dataset)
    consensus = [
        p for t in tasks for p in t["predictions"] if p["model_version"] == "consensus:dawid_skene"
    ]
    assert [p["score"] for p in consensus] == [0.8, 0.55]
    for prediction in consensus:
        assert li.validate_prediction(prediction, return_errors=True) == []


def test_config_has_the_taxonomy_and_every_emotion_the_rows_name(world: World) -> None:
    li = interface(world.dataset)
    choices = li.get_control("emotion").labels
    assert choices[:8] == list(world.dataset.taxonomy.labels)
    assert "rapture" in choices  # a model's answer outside the taxonomy
    assert li.get_control("box").labels == ["background", "attribute", "subject"]
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own error types vary
        li.get_control("value")  # no numeric answers: no Number for them


def test_predictions_one_per_model_with_scores_and_regions(world: World) -> None:
    tasks, _ = export(world.dataset)
    task = by_sample(tasks, world.adjudicated)
    predictions = {p["model_version"]: p for p in task["predictions"]}
    assert set(predictions) == {"gpt-4o", "gemini", "grounding-dino"}
    assert predictions["gpt-4o"]["score"] == pytest.approx(0.8)
    assert "score" not in predictions["gemini"]  # no confidence, no score
    gpt = {r["from_name"]: r["value"] for r in predictions["gpt-4o"]["result"]}
    assert gpt["emotion"] == {"choices": ["awe"]}
    assert gpt["confidence"] == {"number": 8.0}
    assert gpt["description"] == {"text": ["A hiker & a glacier."]}
    assert gpt["background"] == {"text": ["snow-covered plain"]}
    boxes = [r for r in predictions["grounding-dino"]["result"] if r["type"] == "rectanglelabels"]
    subject = next(b for b in boxes if b["value"]["rectanglelabels"] == ["subject"])
    value = subject["value"]
    assert (value["x"] * W / 100, value["y"] * H / 100) == pytest.approx((4.5, 6.0))
    assert (value["width"] * W / 100, value["height"] * H / 100) == pytest.approx((25.75, 34.0))
    assert (subject["original_width"], subject["original_height"], subject["score"]) == (
        W,
        H,
        0.61,
    )
    ids = [r["id"] for r in predictions["grounding-dino"]["result"]]
    assert len(ids) == len(set(ids)) == 3  # two boxes and a mask: three regions


def decoded(result: dict[str, Any]) -> np.ndarray:
    """The mask Label Studio's own decoder reads from a brushlabels result (alpha channel)."""
    shape = (result["original_height"], result["original_width"], 4)
    return np.reshape(decode_rle(result["value"]["rle"]), shape)[:, :, 3] > 0


def test_masks_decode_pixel_exact_with_the_sdk(world: World) -> None:
    tasks, _ = export(world.dataset)
    task = by_sample(tasks, world.adjudicated)
    machine = next(p for p in task["predictions"] if p["model_version"] == "grounding-dino")
    (brush,) = [r for r in machine["result"] if r["type"] == "brushlabels"]
    assert brush["value"]["brushlabels"] == ["background"]
    assert np.array_equal(decoded(brush), world.machine_mask)
    ann = next(
        a
        for a in task["annotations"]
        if a.get("completed_by") == {"email": "ann@emoreview.invalid"}
    )
    (mine,) = [r for r in ann["result"] if r["type"] == "brushlabels"]
    assert mine["value"]["brushlabels"] == ["attribute"]
    assert np.array_equal(decoded(mine), world.ann_mask)  # the chosen candidate, not the first
    assert np.array_equal(decode_mask(encode_mask(world.ann_mask)), world.ann_mask)


def test_annotations_final_label_then_every_answer(world: World) -> None:
    tasks, _ = export(world.dataset)
    task = by_sample(tasks, world.adjudicated)
    final, first, second = task["annotations"]
    assert (final["ground_truth"], final["completed_by"]) == (True, {"email": "judge@example.org"})
    values = {r["from_name"]: r["value"] for r in final["result"]}
    assert values["emotion"] == {"choices": ["awe"]}
    assert values["confidence"] == {"number": 9.5}
    assert values["notes"] == {"text": ["clear case"]}
    assert [values[k]["text"][0] for k in ("background", "attribute", "subject")] == [
        "white plain",
        "still",
        "hiker",
    ]
    assert first["completed_by"] == {"email": "ann@emoreview.invalid"}  # no e-mail on file
    assert (first["ground_truth"], first["lead_time"]) == (False, 4.2)
    assert second["completed_by"] == {"email": "bob@example.org"}
    meta = task["data"]["meta"]["annotations"]
    assert [(m["kind"], m["who"]) for m in meta] == [
        ("final", "judge"),
        ("answer", "ann"),
        ("answer", "bob"),
    ]
    assert by_sample(tasks, world.agreed)["annotations"] == []  # decided by models: no person


def test_data_image_critic_and_meta(world: World) -> None:
    tasks, _ = export(world.dataset)
    task = by_sample(tasks, world.adjudicated)
    assert task["data"]["image"] == "/data/local-files/?d=emoverse/sub%20dir/a.jpg"
    meta = task["data"]["meta"]
    assert meta["emoreview_image"] == f"/review/samples/{world.adjudicated.pk}/image/"
    assert (meta["status"], meta["source"], meta["external_id"]) == (
        "adjudicated",
        "EmoSet",
        world.adjudicated.external_id,
    )
    assert (meta["width"], meta["height"], meta["decided_by"]) == (W, H, "adjudicator")
    critic = by_sample(tasks, world.disputed)["data"]["critic"]
    assert critic == "revise → awe (critic-x): The gaze is upward."
    assert task["data"]["critic"] == ""


def test_streams_batch_by_batch_in_one_array(world: World, settings) -> None:
    settings.EXPORT_BATCH_SIZE = 1
    tasks, chunks = export(world.dataset)
    assert chunks[0] == ExportChunk(b"[", 0)
    assert [c.rows for c in chunks] == [0, 1, 1, 1, 0]
    assert [t["data"]["meta"]["sample_id"] for t in tasks] == sorted(
        s.pk for s in (world.adjudicated, world.agreed, world.disputed)
    )
    decided, _ = export(world.dataset, scope="decided")
    assert len(decided) == 2


def test_empty_dataset_is_an_empty_list(db) -> None:
    dataset = cast(Dataset, factories.DatasetFactory(name="empty"))
    tasks, _ = export(dataset)
    assert tasks == []


def test_numeric_answers_get_a_number_control(world: World) -> None:
    sample = _sample(world.dataset, image_path="n.jpg", status=Sample.Status.DISPUTED)
    Annotation.objects.create(sample=sample, annotator=world.bob, value_number=3.0)
    li = interface(world.dataset)
    tasks, _ = export(world.dataset)
    (answer,) = by_sample(tasks, sample)["annotations"]
    assert {r["from_name"]: r["value"] for r in answer["result"]} == {"value": {"number": 3.0}}
    assert li.validate_prediction(answer, return_errors=True) == []


def test_config_escapes_labels() -> None:
    li = LabelInterface(build_config(emotions=['"odd" & <label>', "awe"]))
    li.validate()
    assert li.get_control("emotion").labels == ['"odd" & <label>', "awe"]


@pytest.mark.parametrize(
    ("shape", "kind"),
    [((1, 1), "ones"), ((3, 5), "random"), ((48, 64), "random"), ((300, 300), "ones"),
     ((300, 300), "half"), ((17, 301), "zeros")],
)  # fmt: skip
def test_brush_rle_is_the_sdk_encoding_byte_for_byte(shape: tuple[int, int], kind: str) -> None:
    rng = np.random.default_rng(3)
    mask = {
        "ones": np.ones(shape, bool),
        "zeros": np.zeros(shape, bool),
        "random": rng.random(shape) < 0.5,
        "half": np.arange(shape[0] * shape[1]).reshape(shape) < shape[0] * shape[1] // 2,
    }[kind]
    ours = brush_rle(mask)
    assert ours == mask2rle(mask.astype(np.uint8) * 255)  # runs past 2**16 split the same way
    back = np.reshape(decode_rle(ours), (*shape, 4))
    assert np.array_equal(back[:, :, 3] > 0, mask)


def test_brush_rle_refuses_what_is_not_a_2d_mask() -> None:
    with pytest.raises(ValueError, match="2-D"):
        brush_rle(np.zeros((2, 2, 2), bool))
