"""The upload page: bounded uploads (413 with the limit, never a 500 or a full disk), hostile
bytes listed like any problem (a NUL was a 500 on PostgreSQL), people's decisions kept and
said so, and an explicit override."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.models import Sample
from review.models import AuditEvent
from review.services.dropped_samples import restore_dropped_sample
from tests.annotator.importers.helpers import proposal, record, row_counts

pytestmark = pytest.mark.django_db
URL = reverse("review:import")


def upload(*lines: object, name: str = "batch.jsonl") -> SimpleUploadedFile:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return SimpleUploadedFile(name, text.encode(), content_type="application/jsonl")


def post(client, images_root, file, **fields):
    data = {"file": file, "dataset": "emo", "images_root": str(images_root), **fields}
    return client.post(URL, data)


def test_an_upload_announced_over_the_limit_is_413_before_it_is_read(
    client, admin_user, images_root, settings
):
    settings.MAX_IMPORT_UPLOAD_BYTES = 1000
    client.force_login(admin_user)
    big = upload(record("s1", emotion="awe", description="x" * 200_000))
    response = post(client, images_root, big)
    assert response.status_code == 413
    html = response.content.decode()
    assert "upload: the file is too large (" in html
    assert "the limit is 1,000 bytes (MAX_IMPORT_UPLOAD_BYTES)" in html
    assert Sample.objects.count() == 0


def test_an_upload_that_grows_past_the_limit_is_cut_off_while_it_streams(
    client, admin_user, images_root, settings
):
    # Under the announced-size allowance for the form's other fields, so only the streaming
    # count can catch it (as for a body sent without a true Content-Length).
    settings.MAX_IMPORT_UPLOAD_BYTES = 1000
    client.force_login(admin_user)
    response = post(client, images_root, upload(record("s1", description="x" * 5000)))
    assert response.status_code == 413
    assert "the limit is 1,000 bytes (MAX_IMPORT_UPLOAD_BYTES)" in response.content.decode()
    assert Sample.objects.count() == 0


def test_an_upload_under_the_limit_imports(client, admin_user, images_root, settings):
    settings.MAX_IMPORT_UPLOAD_BYTES = 5000
    client.force_login(admin_user)
    response = post(client, images_root, upload(record("s1", emotion="awe")))
    assert response.status_code == 302 and Sample.objects.count() == 1


def test_a_nul_or_a_huge_number_is_a_listed_problem_not_a_500(client, admin_user, images_root):
    client.force_login(admin_user)
    before = row_counts()
    bad = upload(
        record("s1", proposals=[proposal("m", description="a\x00b")]),
        record("s2", "b.jpg", emotion="awe", confidence=10**400),
        name="mine.jsonl",
    )
    response = post(client, images_root, bad)
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 problems; nothing was imported" in html
    assert "mine.jsonl:1: proposals[0].description: contains a NUL character" in html
    assert "mine.jsonl:2: confidence: " in html
    assert row_counts() == before


def test_csrf_is_still_enforced(admin_user, images_root):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = post(client, images_root, upload(record("s1", emotion="awe")))
    assert response.status_code == 403
    assert Sample.objects.count() == 0


def test_a_restored_sample_is_kept_and_the_page_says_so(client, admin_user, images_root):
    client.force_login(admin_user)
    lines = [record("s1", emotion="awe", critic={"verdict": "drop"})]
    assert post(client, images_root, upload(*lines)).status_code == 302
    sample = Sample.objects.get(external_id="s1")
    restore_dropped_sample(sample=sample, user=admin_user)

    response = post(client, images_root, upload(*lines))
    assert response.status_code == 302
    message = list(get_messages(response.wsgi_request))[-1]
    assert message.level_tag == "warning"
    assert str(message).endswith(
        "kept people's decisions the file's critic drop contradicts on 1 restored by an admin "
        "(s1) (upload again with “Override people's decisions” ticked to apply the file's verdict)"
    )
    sample.refresh_from_db()
    assert sample.status != Sample.Status.DROPPED
    event = AuditEvent.objects.get(sample=sample, action="import_kept_decision")
    assert event.actor == admin_user

    response = post(client, images_root, upload(*lines), override_human_decisions="on")
    assert response.status_code == 302
    sample.refresh_from_db()
    assert sample.status == Sample.Status.DROPPED
    assert AuditEvent.objects.filter(sample=sample, action="import_overrode_decision").exists()


def test_the_form_offers_the_override(client, admin_user):
    client.force_login(admin_user)
    html = client.get(URL).content.decode()
    assert 'name="override_human_decisions"' in html and 'type="checkbox"' in html
