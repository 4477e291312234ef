from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.models import Dataset, Sample
from tests.annotator.importers.helpers import proposal, record, row_counts

pytestmark = pytest.mark.django_db
URL = reverse("review:import")


def upload(*lines: object, name: str = "batch.jsonl") -> SimpleUploadedFile:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return SimpleUploadedFile(name, text.encode(), content_type="application/jsonl")


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_non_admin_is_forbidden(client, user, images_root):
    client.force_login(user)
    assert client.get(URL).status_code == 403
    post = {"file": upload(record()), "dataset": "emo", "images_root": str(images_root)}
    assert client.post(URL, post).status_code == 403
    assert Sample.objects.count() == 0


def test_admin_sees_the_form(client, admin_user):
    client.force_login(admin_user)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    for name in ("file", "dataset", "images_root", "model"):
        assert f'name="{name}"' in html


def test_admin_upload_imports_and_redirects_to_the_queue(client, admin_user, images_root):
    client.force_login(admin_user)
    lines = [record("s1", "a.jpg", proposals=[proposal("m1"), proposal("m2", "fear")])]
    lines.append(record("s2", "b.jpg", emotion="awe"))
    response = client.post(
        URL,
        {
            "file": upload(*lines),
            "dataset": "web-set",
            "images_root": str(images_root),
            "model": "",
        },
    )
    assert response.status_code == 302 and response.url == reverse("review:queue")
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        "Imported batch.jsonl into web-set: 2 created, 0 updated; "
        "agreed 1, disputed 1, pending 0, dropped 0"
    )
    assert Sample.objects.filter(dataset__name="web-set").count() == 2
    assert Sample.objects.get(external_id="s2").proposals.get().model_name == "emoverse"
    assert Dataset.objects.get(name="web-set").images_root == str(images_root.resolve())

    # The stored root is used when the field is left empty.
    response = client.post(URL, {"file": upload(*lines), "dataset": "web-set", "model": "x"})
    assert response.status_code == 302 and Sample.objects.count() == 2


def test_admin_upload_with_problems_lists_every_one_and_writes_nothing(
    client, admin_user, images_root
):
    client.force_login(admin_user)
    before = row_counts()
    bad = upload(
        record("s1", "a.jpg", emotion="happy"),
        "{oops",
        record("s3", "../a.jpg"),
        name="mine.jsonl",
    )
    response = client.post(URL, {"file": bad, "dataset": "emo", "images_root": str(images_root)})
    assert response.status_code == 200
    html = response.content.decode()
    assert "3 problems; nothing was imported" in html
    assert "mine.jsonl:1: emotion: &#x27;happy&#x27; is not in taxonomy mikels8" in html
    assert "mine.jsonl:2: json: invalid JSON" in html
    assert "mine.jsonl:3: image_path: &#x27;../a.jpg&#x27; contains &#x27;..&#x27;" in html
    assert row_counts() == before
    # The form is shown again with what was typed.
    assert 'value="emo"' in html


def test_images_root_outside_import_roots_is_listed(client, admin_user, images_root, tmp_path):
    client.force_login(admin_user)
    response = client.post(
        URL, {"file": upload(record()), "dataset": "emo", "images_root": str(tmp_path)}
    )
    assert response.status_code == 200
    assert "batch.jsonl: images_root: " in response.content.decode()
    assert "is not inside an allowed import root" in response.content.decode()
    assert Sample.objects.count() == 0


def test_only_jsonl_files_are_accepted(client, admin_user, images_root):
    client.force_login(admin_user)
    response = client.post(
        URL,
        {"file": upload(record(), name="s.csv"), "dataset": "emo", "images_root": str(images_root)},
    )
    assert response.status_code == 200
    assert "File extension “csv” is not allowed" in response.content.decode()
    assert Sample.objects.count() == 0
