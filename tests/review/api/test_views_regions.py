"""The sample detail's regions: boxes in pixels and masks as COCO RLE (decoded here with
pycocotools, not our own reader), shown to whom the sample page shows them (review.policy)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.lib.rle import encode_mask
from annotator.models import Region
from review.models import MaskEdit
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from tests.factories import DatasetFactory, RegionFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _client(person) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=person)[0].key}")
    return api


def _mask(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((48, 64), dtype=bool)
    mask[rows, cols] = True
    return mask


def _decoded(rle: dict) -> np.ndarray:
    coco = {"size": rle["size"], "counts": rle["counts"].encode()}
    return mask_utils.decode(coco).astype(bool)


def _accepted(sample, person, mask: np.ndarray, *, seq: int, **extra) -> MaskEdit:
    candidates = [{"rle": encode_mask(mask), "score": 0.9}]
    fields = {"status": "done", "accepted_at": T0, "segmenter": "grabcut", **extra}
    return MaskEdit.objects.create(
        sample=sample, role="subject", author=person, seq=seq, candidates=candidates, **fields
    )


def _regions(person, sample) -> list[dict]:
    response = _client(person).get(f"/api/samples/{sample.pk}/")
    assert response.status_code == 200
    return response.json()["regions"]


def test_machine_regions_come_with_pixel_boxes_and_masks_pycocotools_decodes():
    sample = SampleFactory.create()
    subject = _mask(slice(10, 30), slice(5, 25))
    RegionFactory.create(
        sample=sample, role="subject", phrase="hiker", x1=5, y1=10, x2=25, y2=30,
        mask=encode_mask(subject), origin="model", model_name="grounding-dino",
        segmenter="sam", score=0.87,
    )  # fmt: skip
    RegionFactory.create(sample=sample, role="background", phrase="snow", mask=None)
    sample.refresh_from_db()
    regions = _regions(member(AUDITOR), sample)
    assert [r["role"] for r in regions] == ["background", "subject"]  # background first
    background, found = regions
    assert background["mask"] is None and background["box"] == [4.0, 4.0, 40.0, 40.0]
    assert found["box"] == [5.0, 10.0, 25.0, 30.0] and found["phrase"] == "hiker"
    assert (found["origin"], found["segmenter"], found["score"]) == ("model", "sam", 0.87)
    assert found["mask"]["size"] == [48, 64]
    assert np.array_equal(_decoded(found["mask"]), subject)
    detail = _client(member(AUDITOR)).get(f"/api/samples/{sample.pk}/").json()
    assert (detail["width"], detail["height"]) == (64, 48)
    assert detail["content_hash"] == sample.content_hash


def test_a_machine_blind_answer_sees_no_region_until_it_is_given():
    sample = SampleFactory.create(dataset=DatasetFactory.create(machine_blind=True, overlap_k=2))
    RegionFactory.create(sample=sample, mask=encode_mask(_mask(slice(0, 9), slice(0, 9))))
    person = member(ANNOTATOR)
    lease(sample, person)
    assert _regions(person, sample) == []
    given = {"emotion": "awe", "confidence": 7}
    assert _client(person).post(f"/api/samples/{sample.pk}/answer/", given).status_code == 201
    assert [r["origin"] for r in _regions(person, sample)] == ["import"]


def test_people_see_their_own_accepted_masks_and_judges_see_everyones():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    ana, bea = member(ANNOTATOR, username="ana"), member(ANNOTATOR, username="bea")
    lease(sample, ana)
    lease(sample, bea)
    ana_mask, bea_mask = _mask(slice(2, 12), slice(2, 12)), _mask(slice(20, 40), slice(30, 60))
    _accepted(sample, ana, ana_mask, seq=1)
    _accepted(sample, bea, _mask(slice(0, 4), slice(0, 4)), seq=2)
    _accepted(sample, bea, bea_mask, seq=3)  # her latest accepted one counts
    _accepted(sample, bea, _mask(slice(0, 48), slice(0, 64)), seq=4, undone=True)
    MaskEdit.objects.create(  # refined after accepting, not accepted: not shown
        sample=sample, role="subject", author=bea, seq=5, status="done",
        candidates=[{"rle": encode_mask(_mask(slice(0, 2), slice(0, 2))), "score": 0.5}],
    )  # fmt: skip
    # The machine side's copy of a person's last mask is never shown as the machines'.
    RegionFactory.create(sample=sample, origin=Region.Origin.PERSON, mask=encode_mask(bea_mask))

    own = _regions(ana, sample)
    assert [(r["origin"], r["author"]) for r in own] == [("person", "ana")]
    assert np.array_equal(_decoded(own[0]["mask"]), ana_mask)
    assert own[0]["box"] == [2.0, 2.0, 12.0, 12.0]  # the mask's bounds
    # An adjudicator who also answers it blind sees only their own, as on the sample page.
    dual = member(ANNOTATOR, ADJUDICATOR, username="dual")
    lease(sample, dual)
    _accepted(sample, dual, _mask(slice(1, 3), slice(1, 3)), seq=6)
    assert [r["author"] for r in _regions(dual, sample)] == ["dual"]
    for judge in (member(ADJUDICATOR), member(AUDITOR)):
        seen = {r["author"]: r for r in _regions(judge, sample) if r["origin"] == "person"}
        assert sorted(seen) == ["ana", "bea", "dual"]
        assert np.array_equal(_decoded(seen["bea"]["mask"]), bea_mask)


def test_an_answer_that_is_final_still_shows_only_their_own_masks():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    ana, bea = member(ANNOTATOR, username="ana"), member(ANNOTATOR, username="bea")
    for person in (ana, bea):
        lease(sample, person, status="submitted")
        answer(sample, person, "awe")
    _accepted(sample, bea, _mask(slice(0, 9), slice(0, 9)), seq=1)
    assert _regions(ana, sample) == []
    assert [r["author"] for r in _regions(bea, sample)] == ["bea"]
