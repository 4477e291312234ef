"""/api/datasets/: counts per status, lookup by id or name, keyset pages of samples; the
sample's image through the API (a token works where the web page's needs a session)."""

from __future__ import annotations

import io
from typing import Any, cast

import pytest
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.models import Sample
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db


def _client(person) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=person)[0].key}")
    return api


def test_the_list_counts_samples_per_status_and_links_each_dataset():
    ds = DatasetFactory.create(name="emoverse-mini", licence="CC BY 4.0")
    SampleFactory.create_batch(2, dataset=ds, status=Sample.Status.DISPUTED)
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)
    SampleFactory.create(dataset=ds, status=Sample.Status.ADJUDICATED)
    empty = DatasetFactory.create(name="empty")
    rows = _client(member(AUDITOR)).get("/api/datasets/").json()
    assert [row["name"] for row in rows] == ["emoverse-mini", "empty"]
    first = rows[0]
    assert first["id"] == ds.pk and first["licence"] == "CC BY 4.0"
    assert (first["counts"]["disputed"], first["counts"]["agreed"]) == (2, 1)
    assert (first["total"], first["decided"]) == (4, 2)
    assert first["labels"][:2] == ["amusement", "awe"]
    assert first["url"] == f"http://testserver/api/datasets/{ds.pk}/"
    assert rows[1]["total"] == 0 and rows[1]["id"] == empty.pk
    only = _client(member(AUDITOR)).get("/api/datasets/", {"name": "empty"}).json()
    assert [row["name"] for row in only] == ["empty"]


def test_a_dataset_by_id_or_by_name_and_the_queue_filters_by_that_id():
    ds = DatasetFactory.create(name="set-a")
    SampleFactory.create(dataset=ds, status=Sample.Status.DISPUTED)
    SampleFactory.create(status=Sample.Status.DISPUTED)  # another dataset's
    api = _client(member(ADJUDICATOR))
    by_name = api.get("/api/datasets/set-a/").json()
    assert by_name == api.get(f"/api/datasets/{ds.pk}/").json()
    queue = api.get("/api/queue/", {"dataset": by_name["id"]}).json()
    assert queue["count"] == 1 and queue["results"][0]["dataset"] == "set-a"
    assert api.get("/api/datasets/no-such-set/").status_code == 404
    assert api.get("/api/datasets/99999999999999999999999/").status_code == 404


def test_a_digit_only_name_is_found_when_no_dataset_has_that_id():
    ds = DatasetFactory.create(name="2024")
    assert _client(member(AUDITOR)).get("/api/datasets/2024/").json()["id"] == ds.pk


def test_samples_come_in_keyset_pages_that_cover_the_dataset_once():
    ds = DatasetFactory.create()
    made = [s.pk for s in SampleFactory.create_batch(7, dataset=ds)]
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)
    api = _client(member(AUDITOR))
    url, seen = f"/api/datasets/{ds.pk}/samples/?page_size=3&status=disputed", []
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        assert set(page["results"][0]) >= {"image_url", "width", "height", "content_hash"}
        url = page["next"]
    assert seen == made
    bad = api.get(f"/api/datasets/{ds.pk}/samples/", {"status": "bogus"})
    assert bad.status_code == 400 and "status" in bad.json()


def test_annotators_list_only_the_samples_handed_to_them():
    ds = DatasetFactory.create()
    mine, _other = SampleFactory.create_batch(2, dataset=ds)
    person = member(ANNOTATOR)
    lease(mine, person)
    rows = _client(person).get(f"/api/datasets/{ds.name}/samples/").json()["results"]
    assert [row["id"] for row in rows] == [mine.pk]


def test_the_image_comes_with_a_token_to_those_who_may_open_the_sample(tmp_path, settings):
    settings.IMPORT_ROOTS = [*settings.IMPORT_ROOTS, tmp_path.resolve()]
    Image.new("RGB", (64, 48), "blue").save(tmp_path / "a.png")
    ds = DatasetFactory.create(images_root=str(tmp_path))
    sample = SampleFactory.create(dataset=ds, image_path="a.png")
    holder = member(ANNOTATOR)
    lease(sample, holder)
    detail = _client(holder).get(f"/api/samples/{sample.pk}/").json()
    assert detail["image_url"] == f"http://testserver/api/samples/{sample.pk}/image/"
    response = _client(holder).get(detail["image_url"])
    assert response.status_code == 200
    assert Image.open(io.BytesIO(b"".join(cast(Any, response).streaming_content))).size == (64, 48)
    # An annotator with nothing of this sample may not see it; nor anyone signed out.
    assert _client(member(ANNOTATOR)).get(detail["image_url"]).status_code == 403
    assert APIClient().get(detail["image_url"]).status_code == 401
    missing = SampleFactory.create(dataset=ds, image_path="gone.png")
    assert _client(member(AUDITOR)).get(f"/api/samples/{missing.pk}/image/").status_code == 404
