"""Error answers: short text for htmx (never a page in a fragment), 401 for a session that
ended, the second tab's answer as a 409 conflict, and styled 403/404/500 pages otherwise."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from review.http import LOGIN_URL_HEADER
from review.models import Adjudication, Annotation, Assignment
from review.roles import ADJUDICATOR, ANNOTATOR
from tests.factories import AdjudicationFactory, DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
MAX_MESSAGE = 400  # what errors.js shows as the server's words


@pytest.fixture
def sample():
    s = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=1), external_id="err-1")
    ProposalFactory.create(sample=s, model_name="gpt-4o", emotion="awe")
    return s


def _label(emotion: str, **extra: str) -> dict[str, str]:
    fields = {"confidence": "7", "background": "", "attribute": "", "subject": "", "notes": ""}
    return {"emotion": emotion, **fields, **extra}


def _htmx_from(page: str) -> dict[str, str]:
    return {**HTMX, "HX-Current-URL": f"http://testserver{page}"}


def _is_short_text(response) -> bool:
    body = response.content.decode()
    return response["Content-Type"].startswith("text/plain") and 0 < len(body) <= MAX_MESSAGE


# --- htmx: short messages ------------------------------------------------------------------


def test_htmx_403_is_the_refusal_in_one_line(client, annotator, sample):
    client.force_login(annotator)  # no lease on the sample
    response = client.post(reverse("review:answer", args=[sample.pk]), _label("awe"), headers=HTMX)
    assert response.status_code == 403 and _is_short_text(response)
    assert response.content.decode() == "This sample is not assigned to you. Nothing was saved."


def test_htmx_404_is_a_short_message_for_a_missing_sample_and_an_unknown_url(client, annotator):
    client.force_login(annotator)
    missing = client.post(reverse("review:draft", args=[999_999]), {}, headers=HTMX)
    assert missing.status_code == 404 and _is_short_text(missing)
    assert "Not found" in missing.content.decode() and "matches the given query" not in (
        missing.content.decode()
    )
    unknown = client.get("/review/no-such-page/", headers=HTMX)
    assert unknown.status_code == 404 and _is_short_text(unknown)
    assert b"<html" not in unknown.content


def test_htmx_500_is_a_short_message(annotator, sample, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("review.views.drafts.save_draft", broken)
    lease(sample, annotator)
    client = Client(raise_request_exception=False)
    client.force_login(annotator)
    response = client.post(reverse("review:draft", args=[sample.pk]), _label("awe"), headers=HTMX)
    assert response.status_code == 500 and _is_short_text(response)
    assert response.content.decode().startswith("The server failed (error 500).")


def test_draft_of_a_sample_answered_elsewhere_says_so(client, annotator, sample):
    lease(sample, annotator, status=Assignment.Status.SUBMITTED)
    Annotation.objects.create(sample=sample, annotator=annotator, emotion="awe", confidence=7)
    client.force_login(annotator)
    response = client.post(reverse("review:draft", args=[sample.pk]), _label("fear"), headers=HTMX)
    assert response.status_code == 403 and "another tab" in response.content.decode()


# --- the session ended ---------------------------------------------------------------------


def test_htmx_request_after_the_session_ended_is_401_with_the_way_back(client, sample):
    page = reverse("review:sample", args=[sample.pk])
    response = client.post(
        reverse("review:draft", args=[sample.pk]), _label("awe"), headers=_htmx_from(page)
    )
    assert response.status_code == 401 and _is_short_text(response)
    assert response.content.decode() == "Your session ended: sign in again."
    login = urlsplit(response[LOGIN_URL_HEADER])
    assert login.path == reverse("login")
    assert parse_qs(login.query) == {"next": [page], "ended": ["1"]}


def test_htmx_queue_filter_after_the_session_ended_is_401(client):
    response = client.get(reverse("review:queue"), {"status": "agreed"}, headers=HTMX)
    assert response.status_code == 401 and b"<html" not in response.content


def test_htmx_poll_of_a_mask_after_the_session_ended_is_401_not_the_login_page(client, sample):
    # The mask views use Django's own login_required: the middleware catches every login redirect.
    url = reverse("review:mask_poll", args=[sample.pk, "subject"])
    response = client.get(url, headers=_htmx_from(reverse("review:sample", args=[sample.pk])))
    assert response.status_code == 401 and b"<form" not in response.content


def test_plain_post_after_the_session_ended_returns_to_the_sample_after_sign_in(client, sample):
    page = reverse("review:sample", args=[sample.pk])
    response = client.post(
        reverse("review:answer", args=[sample.pk]),
        _label("awe"),
        headers={"Referer": f"http://testserver{page}"},
    )
    assert response.status_code == 302
    login = urlsplit(response.url)
    assert login.path == reverse("login") and parse_qs(login.query)["next"] == [page]
    assert "Your session ended" in client.get(response.url).content.decode()


def test_a_foreign_referer_is_not_where_sign_in_returns(client, sample):
    response = client.post(
        reverse("review:answer", args=[sample.pk]),
        _label("awe"),
        headers={"Referer": "https://evil.example/review/samples/1/"},
    )
    assert parse_qs(urlsplit(response.url).query)["next"] == [reverse("review:queue")]


def test_a_stale_security_token_after_signing_out_is_a_401_for_htmx(sample):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("review:draft", args=[sample.pk]),
        _label("awe"),
        headers={**HTMX, "X-CSRFToken": "stale" * 8},
    )
    assert response.status_code == 401 and response.has_header(LOGIN_URL_HEADER)


def test_a_stale_security_token_while_signed_in_says_reload(annotator, sample):
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    response = client.post(
        reverse("review:draft", args=[sample.pk]),
        _label("awe"),
        headers={**HTMX, "X-CSRFToken": "stale" * 8},
    )
    assert response.status_code == 403 and "reload it" in response.content.decode()


def test_login_page_does_not_say_the_session_ended_on_a_first_visit(client):
    html = client.get(reverse("login")).content.decode()
    assert "Your session ended" not in html


# --- the second tab ------------------------------------------------------------------------


def test_second_tab_answer_is_a_409_with_the_saved_answer(client, annotator, sample):
    lease(sample, annotator)
    client.force_login(annotator)
    url = reverse("review:answer", args=[sample.pk])
    first = client.post(url, _label("awe", notes="from tab one"), headers=HTMX)
    assert first.status_code == 200 and first.has_header("HX-Redirect")
    second = client.post(url, _label("fear", notes="from tab two"), headers=HTMX)
    assert second.status_code == 409
    html = second.content.decode()
    assert "You already answered this sample" in html
    assert "from tab one" in html and "from tab two" in html  # saved and this tab's, side by side
    assert 'action="/review/next/"' in html  # a way forward
    assert Annotation.objects.get(sample=sample).emotion == "awe"  # nothing overwritten
    # k = 1 and the label is still theirs: they may replace it with this tab's answer.
    change_url = reverse("review:change_answer", args=[sample.pk])
    assert f'action="{change_url}"' in html and "Replace it with this tab" in html
    version = Adjudication.objects.get(sample=sample).version
    assert f'name="base_version" value="{version}"' in html
    replaced = client.post(
        change_url, _label("fear", notes="from tab two", base_version=str(version))
    )
    assert replaced.status_code == 302
    assert Annotation.objects.get(sample=sample).emotion == "fear"


def test_second_tab_cannot_replace_an_answer_someone_else_decided_over(client, annotator, sample):
    lease(sample, annotator)
    client.force_login(annotator)
    url = reverse("review:answer", args=[sample.pk])
    client.post(url, _label("awe"), headers=HTMX)
    judge = member(ADJUDICATOR)
    AdjudicationFactory.create(sample=sample, version=2, emotion="fear", annotator=judge)
    html = client.post(url, _label("fear"), headers=HTMX).content.decode()
    assert "You already answered this sample" in html and "Replace it" not in html


def test_second_tab_plain_post_shows_the_conflict_on_the_page(client, annotator, sample):
    lease(sample, annotator)
    client.force_login(annotator)
    url = reverse("review:answer", args=[sample.pk])
    client.post(url, _label("awe"))
    response = client.post(url, _label("fear"))
    assert response.status_code == 409
    assert "You already answered this sample" in response.content.decode()


def test_answer_without_ever_holding_the_sample_stays_a_403(client, sample):
    person = member(ANNOTATOR)
    lease(sample, person, status=Assignment.Status.SKIPPED)
    client.force_login(person)
    response = client.post(reverse("review:answer", args=[sample.pk]), _label("awe"))
    assert response.status_code == 403


# --- styled pages (DEBUG is off in tests) --------------------------------------------------


def test_403_page_is_styled_with_the_reason_and_a_way_back(client, annotator, sample):
    client.force_login(annotator)
    response = client.get(reverse("review:sample", args=[sample.pk]))
    html = response.content.decode()
    assert response.status_code == 403
    assert "css/app.css" in html and "This sample is not assigned to you." in html
    assert f'href="{reverse("review:queue")}"' in html and "data-history-back" in html


def test_the_403_page_s_hint_fits_the_refusal(client, annotator, sample):
    client.force_login(annotator)
    audit = client.get(reverse("review:audit")).content.decode()
    assert "This page needs the auditor or admin role." in audit
    assert "ask an admin for the role." in audit and "assigned to you" not in audit
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    assert "ask an admin for the sample to be assigned to you." in page
    assert "for the role" not in page


def test_favicon_ico_is_the_static_svg(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("img/favicon.svg")
    assert client.get(response["Location"]).status_code == 200  # served as static/ is


def test_404_page_is_styled_with_a_way_back(client, annotator):
    client.force_login(annotator)
    response = client.get("/review/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "css/app.css" in html and "Nothing here" in html and "/review/no-such-page/" in html
    assert f'href="{reverse("review:queue")}"' in html


def test_500_page_is_styled_and_needs_no_request(annotator, sample, monkeypatch):
    from django.template.loader import get_template

    assert "Something went wrong" in get_template("500.html").render({})  # no context at all
    monkeypatch.setattr("review.views.drafts.save_draft", lambda **kw: 1 / 0)
    lease(sample, annotator)
    client = Client(raise_request_exception=False)
    client.force_login(annotator)
    response = client.post(reverse("review:draft", args=[sample.pk]), _label("awe"))
    assert response.status_code == 500
    assert "css/app.css" in response.content.decode() and 'href="/"' in response.content.decode()
