"""Bytes that used to crash the pages (500) are a 400 naming the field: NUL in a draft or any
parameter, integers past the column, digits that are not ASCII, dates past the calendar."""

from __future__ import annotations

import pytest
from django.urls import reverse

from review.models import Adjudication, Annotation, Draft
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

HUGE = str(2**70)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def sample():
    return SampleFactory.create(dataset=DatasetFactory.create(name="ds", overlap_k=1))


def _label(**extra: str) -> dict[str, str]:
    return {"emotion": "awe", "confidence": "7", "notes": "", **extra}


@pytest.fixture
def annotating(client, sample):
    person = member(ANNOTATOR)
    lease(sample, person)
    client.force_login(person)
    return person


@pytest.mark.parametrize("headers", [HTMX, {}])
def test_a_draft_with_nul_in_its_notes_is_400_naming_notes(client, sample, annotating, headers):
    url = reverse("review:draft", args=[sample.pk])
    response = client.post(url, _label(notes="a\x00b"), headers=headers)
    assert response.status_code == 400
    assert "notes" in response.content.decode() and "NUL" in response.content.decode()
    assert not Draft.objects.exists()


def test_the_draft_service_refuses_nul_itself(sample, annotating):
    from django.core.exceptions import ValidationError

    from review.services.drafts import save_draft

    with pytest.raises(ValidationError) as caught:
        save_draft(sample=sample, author=annotating, data={"subject": "x\x00"})
    assert list(caught.value.message_dict) == ["subject"]


def test_a_draft_with_a_huge_base_version_is_400(client, sample, annotating):
    url = reverse("review:draft", args=[sample.pk])
    response = client.post(url, _label(base_version=HUGE), headers=HTMX)
    assert response.status_code == 400 and "base_version" in response.content.decode()
    assert not Draft.objects.exists()


def test_a_draft_with_non_ascii_digits_keeps_base_version_0(client, sample, annotating):
    url = reverse("review:draft", args=[sample.pk])
    response = client.post(url, _label(base_version="²"), headers=HTMX)
    assert response.status_code == 200
    assert Draft.objects.get().base_version == 0


def test_an_adjudication_with_a_huge_base_version_is_400(client, sample):
    client.force_login(member(ADJUDICATOR))
    url = reverse("review:adjudicate", args=[sample.pk])
    response = client.post(url, _label(base_version=HUGE))
    assert response.status_code == 400
    assert not Adjudication.objects.exists()


def test_an_answer_with_a_huge_time_spent_is_kept_at_the_column_limit(client, sample, annotating):
    response = client.post(reverse("review:answer", args=[sample.pk]), _label(time_spent_ms=HUGE))
    assert response.status_code == 302
    assert Annotation.objects.get().time_spent_ms == 2**31 - 1


def test_an_answer_with_nul_is_400_and_nothing_is_saved(client, sample, annotating):
    response = client.post(reverse("review:answer", args=[sample.pk]), _label(subject="\x00"))
    assert response.status_code == 400 and b"subject" in response.content
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    "query",
    [{"source": "\x00"}, {"dataset": "1\x00"}, {"x\x00": "1"}],
)
def test_nul_in_a_page_parameter_is_400_naming_it(client, sample, query):
    client.force_login(member(ADJUDICATOR))
    response = client.get(reverse("review:queue"), query)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"{next(iter(query))!s}".replace("\x00", "\\x00"))


def test_a_queue_filter_with_non_ascii_digits_is_ignored(client, sample):
    client.force_login(member(ADJUDICATOR))
    assert client.get(reverse("review:queue"), {"dataset": "²"}).status_code == 200


def test_an_undo_with_non_ascii_digits_is_not_a_500(client, sample):
    client.force_login(member(ADJUDICATOR))
    response = client.post(reverse("review:undo", args=[sample.pk]), {"version": "²"})
    assert response.status_code < 500


@pytest.mark.parametrize("since", ["0001-01-01", "9999-12-31"])
def test_audit_dates_past_the_calendar_are_a_form_error(client, sample, since):
    client.force_login(member(AUDITOR))
    response = client.get(reverse("review:audit"), {"dataset": "ds", "since": since})
    assert response.status_code == 400
    assert "Use a date from 1900-01-01 to 9998-12-31" in response.content.decode()
    response = client.get(reverse("review:audit"), {"dataset": "ds", "until": "9999-12-31"})
    assert response.status_code == 400


@pytest.mark.postgres
def test_nul_in_a_draft_never_reaches_postgresql(client, sample, annotating):
    # jsonb refuses \u0000: this was a DataError (500) on PostgreSQL.
    url = reverse("review:draft", args=[sample.pk])
    for headers in (HTMX, {}):
        assert client.post(url, _label(notes="\x00"), headers=headers).status_code == 400
    assert not Draft.objects.exists()


def test_mask_clicks_nested_100000_deep_are_a_form_error(client, sample, annotating):
    url = reverse("review:mask_edit", args=[sample.pk, "subject"])
    response = client.post(url, {"clicks": "[" * 100_000 + "]" * 100_000}, headers=HTMX)
    assert response.status_code == 400
