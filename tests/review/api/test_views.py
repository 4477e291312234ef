"""The API end to end: token auth, leases, blind answers, consensus, conflicts, history, docs."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.models import Sample
from review.models import Adjudication, BlindAnswer
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from tests.factories import DEFAULT_PASSWORD, DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def _client(person) -> APIClient:
    api = APIClient()
    token, _ = Token.objects.get_or_create(user=person)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


def _label(emotion: str, **extra):
    return {"emotion": emotion, "confidence": 7, "subject": "hiker", **extra}


def test_token_is_obtained_with_username_and_password():
    person = member(ANNOTATOR)
    response = APIClient().post(
        "/api/token/", {"username": person.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=person).key


def test_anonymous_requests_get_401_with_the_token_scheme():
    response = APIClient().get("/api/queue/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_two_annotators_then_an_adjudicator_through_the_api():
    ds = DatasetFactory.create(overlap_k=2)
    sample = SampleFactory.create(dataset=ds)
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe")
    ana, bea = _client(member(ANNOTATOR)), _client(member(ANNOTATOR))

    lease = ana.post("/api/next/", {}, format="json").json()
    assert (lease["sample"], lease["kind"], lease["status"]) == (sample.pk, "annotate", "active")
    assert bea.post("/api/next/", {}, format="json").json()["sample"] == sample.pk
    assert ana.post(f"/api/samples/{sample.pk}/answer/", _label("awe")).json() == {"decided": False}
    # Blind: bea sees the models' proposals, not ana's answer nor any final label.
    seen = bea.get(f"/api/samples/{sample.pk}/").json()
    assert seen["answers"] == [] and seen["final_label"] is None
    assert seen["proposals"][0]["model_name"] == "gpt-4o" and seen["access"]["answer"]
    assert bea.post(f"/api/samples/{sample.pk}/answer/", _label("fear")).status_code == 201
    assert bea.post("/api/next/", {}, format="json").status_code == 204  # queue done

    judge = _client(member(ADJUDICATOR))
    queue = judge.get("/api/queue/", {"status": "needs_adjudication"}).json()
    assert [row["id"] for row in queue["results"]] == [sample.pk]
    detail = judge.get(f"/api/samples/{sample.pk}/").json()
    assert sorted(a["emotion"] for a in detail["answers"]) == ["awe", "fear"]
    leased = judge.post("/api/next/", {"kind": "adjudicate"}, format="json").json()
    assert leased["sample"] == sample.pk
    saved = judge.post(
        f"/api/samples/{sample.pk}/adjudication/", _label("fear", base_version=0), format="json"
    )
    assert saved.status_code == 201
    assert (saved.json()["version"], saved.json()["method"]) == (1, "adjudicator")
    assert Sample.objects.get(pk=sample.pk).status == Sample.Status.ADJUDICATED


def test_a_stale_save_gets_409_with_both_versions():
    sample = SampleFactory.create()
    first, second = _client(member(ADJUDICATOR)), _client(member(ADJUDICATOR))
    url = f"/api/samples/{sample.pk}/adjudication/"
    assert first.post(url, _label("awe", base_version=0), format="json").status_code == 201
    stale = second.post(url, _label("fear", base_version=0), format="json")
    assert stale.status_code == 409
    body = stale.json()
    assert body["theirs"]["emotion"] == "awe" and body["theirs"]["version"] == 1
    assert body["yours"]["emotion"] == "fear" and "version 1" in body["detail"]
    assert Adjudication.objects.count() == 1
    again = second.post(url, _label("fear", base_version=1), format="json")
    assert again.status_code == 201 and again.json()["version"] == 2


def test_undo_and_history():
    sample = SampleFactory.create()
    judge = member(ADJUDICATOR)
    api = _client(judge)
    api.post(
        f"/api/samples/{sample.pk}/adjudication/", _label("awe", base_version=0), format="json"
    )
    other = _client(member(ADJUDICATOR))
    url = f"/api/samples/{sample.pk}/adjudication/undo/"
    assert other.post(url, {"version": 1}).status_code == 403  # not the author
    missing = api.post(url, {})  # the version the person saw is required
    assert missing.status_code == 400 and "version" in missing.json()
    undone = api.post(f"/api/samples/{sample.pk}/adjudication/undo/", {"version": 1})
    assert undone.status_code == 200 and undone.json()["current"] is None
    assert undone.json()["versions"][0]["reverted"] is True
    history = _client(member(AUDITOR)).get(f"/api/samples/{sample.pk}/history/").json()
    assert [e["action"] for e in history["events"]] == ["undo", "decide"]
    assert history["events"][0]["actor"] == judge.username
    assert history["events"][0]["before"]["emotion"] == "awe"


def test_bad_labels_are_400_naming_the_field():
    sample = SampleFactory.create()
    api = _client(member(ADJUDICATOR))
    response = api.post(
        f"/api/samples/{sample.pk}/adjudication/",
        _label("joy", base_version=0),
        format="json",
    )
    assert response.status_code == 400 and "emotion" in response.json()
    missing = api.post(f"/api/samples/{sample.pk}/adjudication/", _label("awe"), format="json")
    assert missing.status_code == 400 and "base_version" in missing.json()


def test_schema_and_docs_page_use_only_local_assets():
    client = Client()
    client.force_login(member(ANNOTATOR))
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/samples/{id}/adjudication/" in schema.content
    docs = client.get("/api/docs/")
    html = docs.content.decode()
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"/api/schema/" in script.content
    assert Client().get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_a_machine_blind_dataset_hides_the_machines_until_the_answer():
    ds = DatasetFactory.create(overlap_k=2, machine_blind=True)
    sample = SampleFactory.create(dataset=ds, dispute_reasons=[{"kind": "label_mismatch"}])
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe")
    annotator = member(ANNOTATOR)
    api = _client(annotator)
    assert api.post("/api/next/", {}, format="json").json()["sample"] == sample.pk
    seen = api.get(f"/api/samples/{sample.pk}/").json()
    assert (seen["proposals"], seen["critic"], seen["dispute_reasons"]) == ([], None, [])
    assert api.post(f"/api/samples/{sample.pk}/answer/", _label("fear")).status_code == 201
    # Answered without seeing the machines: kept as the blind answer, so the audit counts it.
    blind = BlindAnswer.objects.get(sample=sample, annotator=annotator)
    assert blind.emotion == "fear"
    # An adjudicator still sees everything.
    judge = _client(member(ADJUDICATOR))
    assert judge.get(f"/api/samples/{sample.pk}/").json()["proposals"][0]["model_name"] == "gpt-4o"


def test_an_annotator_cannot_undo_their_answer_into_an_adjudicators_queue():
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1))
    api = _client(member(ANNOTATOR))
    api.post("/api/next/", {}, format="json")
    assert api.post(f"/api/samples/{sample.pk}/answer/", _label("awe")).json() == {"decided": True}
    undone = api.post(f"/api/samples/{sample.pk}/adjudication/undo/", {"version": 1})
    assert undone.status_code == 403
    assert Adjudication.objects.get(sample=sample).reverted is False
