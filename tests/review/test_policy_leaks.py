"""The leaks issue 10 found, one test each (the whole table: test_policy_matrix.py).

- A person both annotator and adjudicator (every admin) read the other answers and notes in the
  history (page and API) while their own lease was unanswered.
- A skipped annotator still read the final label and the adjudicator's notes.
- On a k = 1 dataset an annotator refused the sample page could still click its masks and
  fetch mask.png.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from annotator.lib.rle import encode_mask
from review.models import Annotation, Assignment
from review.roles import ADJUDICATOR, ANNOTATOR
from review.services import history
from review.services.masks import Click, add_mask_edit
from tests.factories import (
    AdjudicationFactory,
    AdminFactory,
    DatasetFactory,
    RegionFactory,
    SampleFactory,
)
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db

OTHERS_NOTE = "the-other-annotators-note"
FINAL_NOTE = "the-adjudicators-note"
LABEL = {"emotion": "fear", "confidence": "6", "background": "", "attribute": "", "subject": ""}


@pytest.fixture
def sample():
    """k = 2: another person answered (with notes); no label yet."""
    s = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    other = member(ANNOTATOR)
    answer(s, other, "awe", notes=OTHERS_NOTE)
    after = {"emotion": "awe", "notes": OTHERS_NOTE}
    history.record_event(sample=s, actor=other, action=history.ANSWER, after=after)
    return s


def _api(person) -> Client:
    token = Token.objects.create(user=person).key
    return Client(headers={"Authorization": f"Token {token}"})


def _web(person) -> Client:
    client = Client()
    client.force_login(person)
    return client


@pytest.mark.parametrize("who", ["annotator+adjudicator", "admin"])
def test_answering_blind_hides_others_answers_in_the_history_until_they_answer(sample, who):
    person = AdminFactory() if who == "admin" else member(ANNOTATOR, ADJUDICATOR)
    lease(sample, person)
    web, api = _web(person), _api(person)
    history_url = reverse("review:history", args=[sample.pk])
    page = web.get(history_url)
    assert page.status_code == 200
    assert OTHERS_NOTE not in page.content.decode()
    assert "answering this sample blind" in page.content.decode()
    events = api.get(f"/api/samples/{sample.pk}/history/").json()["events"]
    assert [e["action"] for e in events] == []  # their lease was handed out directly
    assert OTHERS_NOTE not in str(events)
    assert api.get(f"/api/samples/{sample.pk}/adjudication/").status_code == 403

    assert web.post(reverse("review:answer", args=[sample.pk]), LABEL).status_code == 302
    assert OTHERS_NOTE in web.get(history_url).content.decode()
    assert OTHERS_NOTE in str(api.get(f"/api/samples/{sample.pk}/history/").json())


def test_giving_up_the_lease_ends_blind_review_for_an_adjudicator(sample):
    person = member(ANNOTATOR, ADJUDICATOR)
    lease(sample, person)
    web = _web(person)
    assert web.post(reverse("review:skip", args=[sample.pk])).status_code == 302
    assert OTHERS_NOTE in web.get(reverse("review:history", args=[sample.pk])).content.decode()


def test_answering_blind_refuses_deciding_the_label(sample):
    person = AdminFactory()
    lease(sample, person)
    data = {**LABEL, "base_version": "0"}
    refused = _web(person).post(reverse("review:adjudicate", args=[sample.pk]), data)
    assert refused.status_code == 403
    assert _api(person).post(f"/api/samples/{sample.pk}/adjudication/", data).status_code == 403


def test_a_skipped_annotator_reads_neither_the_final_label_nor_the_notes(sample):
    AdjudicationFactory.create(
        sample=sample, version=1, annotator=member(ADJUDICATOR), notes=FINAL_NOTE
    )
    person = member(ANNOTATOR)
    lease(sample, person, status=Assignment.Status.SKIPPED)
    web, api = _web(person), _api(person)
    page = web.get(reverse("review:sample", args=[sample.pk]))
    assert page.status_code == 200  # still listed under "Skipped": they may take it back
    assert page.context["decision"] is None and page.context["answers"] == []
    html = page.content.decode()
    assert FINAL_NOTE not in html and OTHERS_NOTE not in html
    data = api.get(f"/api/samples/{sample.pk}/").json()
    assert data["final_label"] is None and data["answers"] == []
    assert FINAL_NOTE not in str(data) and OTHERS_NOTE not in str(data)
    assert web.get(reverse("review:history", args=[sample.pk])).status_code == 403
    assert api.get(f"/api/samples/{sample.pk}/history/").status_code == 403


def test_the_final_label_shows_once_the_persons_own_answer_is_final(sample):
    AdjudicationFactory.create(
        sample=sample, version=1, annotator=member(ADJUDICATOR), notes=FINAL_NOTE
    )
    person = member(ANNOTATOR)
    lease(sample, person, status=Assignment.Status.SUBMITTED)
    answer(sample, person, "joy")
    data = _api(person).get(f"/api/samples/{sample.pk}/").json()
    assert data["final_label"]["notes"] == FINAL_NOTE and data["answers"] == []


@pytest.fixture
def k1_sample(images_root):
    dataset = DatasetFactory.create(images_root=str(images_root), overlap_k=1)
    s = SampleFactory.create(dataset=dataset, image_path="a.jpg")
    machine = np.zeros((48, 64), dtype=bool)
    machine[4:20, 4:30] = True
    RegionFactory.create(sample=s, role="subject", mask=encode_mask(machine))
    return s


def test_on_k1_a_refused_sample_page_means_refused_masks(client, k1_sample):
    person = member(ANNOTATOR)
    client.force_login(person)
    assert client.get(reverse("review:sample", args=[k1_sample.pk])).status_code == 403
    click = reverse("review:mask_edit", args=[k1_sample.pk, "subject"])
    assert client.post(click, {"x": "10", "y": "10", "label": "1"}).status_code == 403
    png = reverse("review:mask_png", args=[k1_sample.pk, "subject"])
    assert client.get(png).status_code == 403
    poll = reverse("review:mask_poll", args=[k1_sample.pk, "subject"]) + "?edit=1"
    assert client.get(poll).status_code == 403
    with pytest.raises(PermissionDenied):  # the service asks the same policy
        add_mask_edit(sample=k1_sample, role="subject", author=person, click=Click(10, 10, 1))

    lease(k1_sample, person)  # "Next" handed it to them: page and masks open together
    assert client.get(reverse("review:sample", args=[k1_sample.pk])).status_code == 200
    assert client.get(png).status_code == 200


def test_machine_blind_hides_the_machines_masks_until_the_first_answer(images_root):
    dataset = DatasetFactory.create(images_root=str(images_root), machine_blind=True)
    s = SampleFactory.create(dataset=dataset, image_path="a.jpg")
    RegionFactory.create(sample=s, role="subject", mask=encode_mask(np.ones((48, 64), bool)))
    person = member(ANNOTATOR)
    lease(s, person)
    client = _web(person)
    png = reverse("review:mask_png", args=[s.pk, "subject"])
    assert client.get(png).status_code == 403
    click = reverse("review:mask_edit", args=[s.pk, "subject"])
    assert client.post(click, {"x": "10", "y": "10", "label": "1"}).status_code == 403
    assert not Annotation.objects.exists()


def test_the_author_may_undo_their_own_decision(client, sample):
    author = member(ADJUDICATOR)
    AdjudicationFactory.create(sample=sample, version=1, annotator=author)
    client.force_login(author)
    response = client.post(reverse("review:undo", args=[sample.pk]), {"version": "1"})
    assert response.status_code == 302
    assert sample.adjudications.get().reverted


def test_the_audit_drilldown_leaves_out_a_sample_its_viewer_answers_blind():
    """Each drill-down row shows the sample's final label: not while the viewer (an admin
    here) holds an unanswered lease on it."""
    from annotator.models import Sample
    from review.selectors.audit import clear_audit_cache
    from tests.review.selectors.test_audit import make_audit_world

    clear_audit_cache()
    make_audit_world()
    admin = AdminFactory()
    api = _api(admin)
    query = {"dataset": "emo-audit", "figure": "critic", "verdict": "drop"}
    assert api.get("/api/audit/samples/", query).json()["count"] == 1
    web = _web(admin)
    assert ">s4</a>" in web.get(reverse("review:audit_samples"), query).content.decode()

    lease(Sample.objects.get(external_id="s4"), admin)
    assert api.get("/api/audit/samples/", query).json()["count"] == 0
    assert ">s4</a>" not in web.get(reverse("review:audit_samples"), query).content.decode()
    clear_audit_cache()
