"""The DES map page and its endpoints: who may use them, the bytes they send, selections."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from annotator.models import Sample
from review.models import Adjudication
from review.models_consensus import ConsensusFit, SamplePosterior
from review.models_desmap import DesMap, MapSelection, MapSelectionSample
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from review.selectors.des_map import selection_filter
from review.services.des_map import compute_des_map
from review.services.des_map_store import QUANT_MAX, unpack_points
from tests.factories import AdminFactory, DatasetFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

STATUSES = ["agreed", "disputed", "adjudicated", "pending"]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # colourings are cached by map id, and ids repeat between tests
    yield
    cache.clear()


@pytest.fixture
def world():
    dataset = DatasetFactory.create()
    rng = np.random.default_rng(3)
    samples = []
    for i in range(24):
        des = (rng.normal(size=32) + [i % 3] * 32).astype("<f4").tobytes()
        status = STATUSES[i % 4]
        samples.append(
            SampleFactory.create(dataset=dataset, des=des, status=status, suggested_emotion="awe")
        )
    for s in samples:
        if s.status == "adjudicated":
            Adjudication.objects.create(sample=s, emotion="fear", confidence=5, version=1)
            Adjudication.objects.create(sample=s, emotion="anger", confidence=5, version=2)
    des_map = DesMap.objects.create(dataset=dataset)
    assert compute_des_map(map_id=des_map.pk) == "done"
    des_map.refresh_from_db()
    return dataset, samples, des_map


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _urls(dataset, des_map) -> list[tuple[str, str]]:
    return [
        ("get", f"{reverse('review:des_map')}?dataset={dataset.pk}"),
        ("get", reverse("review:map_points", args=[des_map.pk])),
        ("get", reverse("review:map_codes", args=[des_map.pk]) + "?by=status"),
        ("get", reverse("review:map_legend", args=[des_map.pk]) + "?by=status"),
        ("post", reverse("review:map_select", args=[des_map.pk])),
        ("post", reverse("review:map_recompute", args=[dataset.pk])),
    ]


@pytest.mark.parametrize("roles", [(ANNOTATOR,), (ADJUDICATOR,), ()])
def test_people_without_the_auditor_role_get_403(world, roles) -> None:
    dataset, _, des_map = world
    client = _client(member(*roles))
    for method, url in _urls(dataset, des_map):
        assert getattr(client, method)(url).status_code == 403, url


def test_anonymous_people_go_to_the_login_page(world) -> None:
    dataset, _, des_map = world
    for method, url in _urls(dataset, des_map):
        response = getattr(Client(), method)(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


@pytest.mark.parametrize("who", ["auditor", "admin"])
def test_auditors_and_admins_see_the_page(world, who) -> None:
    dataset, _, des_map = world
    user = member(AUDITOR) if who == "auditor" else AdminFactory.create()
    page = _client(user).get(f"{reverse('review:des_map')}?dataset={dataset.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("review:map_points", args=[des_map.pk]) in html
    assert "24 samples" in html and 'id="des-canvas"' in html
    assert reverse("review:des_map") in html  # the nav link


def test_points_endpoint_sends_8_bytes_a_point_then_their_names_in_the_stored_order(world):
    _, samples, des_map = world
    response = _client(member(AUDITOR)).get(reverse("review:map_points", args=[des_map.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    body = response.content
    n = len(samples)
    assert np.frombuffer(body, "<u4", 1)[0] == n
    qx, qy, ids = _wire(_client(member(AUDITOR)), des_map)
    assert ids.tolist() == [s.pk for s in samples]
    # The names the hover shows: each sample's external id, one a line, in the same order.
    assert body[4 + 8 * n :].decode().split("\n") == [s.external_id for s in samples]
    stored = unpack_points(des_map.points)
    # One common scale: the order of x (and of y) is the stored one, the larger extent fills.
    assert (np.argsort(qx, kind="stable") == np.argsort(stored.x, kind="stable")).mean() > 0.9
    assert max(qx.max(), qy.max()) == QUANT_MAX and min(qx.min(), qy.min()) == 0
    span_x, span_y = np.ptp(stored.x), np.ptp(stored.y)
    assert abs(qy.max() / qx.max() - span_y / span_x) < 1e-3


def test_codes_follow_the_legend_and_final_labels(world) -> None:
    dataset, samples, des_map = world
    client = _client(member(AUDITOR))
    codes_url = reverse("review:map_codes", args=[des_map.pk])
    legend_url = reverse("review:map_legend", args=[des_map.pk])
    status = np.frombuffer(client.get(codes_url + "?by=status").content, np.uint8)
    order = list(Sample.Status.values)
    assert status.tolist() == [order.index(s.status) + 1 for s in samples]
    emotion = np.frombuffer(client.get(codes_url + "?by=emotion").content, np.uint8)
    labels = list(dataset.taxonomy.labels)
    by_status = {"agreed": "awe", "adjudicated": "anger"}  # the current version, not the first
    code_of = {label: i + 1 for i, label in enumerate(labels)}  # the taxonomy's order
    expected = [code_of.get(by_status.get(s.status, ""), 0) for s in samples]
    assert emotion.tolist() == expected
    legend = client.get(legend_url + "?by=emotion").content.decode()
    assert f'data-code="{code_of["anger"]}"' in legend and "no final label" in legend


def _swatches(client, des_map) -> dict[str, str]:
    """{label: its swatch class} as the emotion legend shows them."""
    url = reverse("review:map_legend", args=[des_map.pk]) + "?by=emotion"
    found = re.findall(r'class="des-swatch (des-c\d+)"></span> ([^<]+?) <', client.get(url).text)
    return {label: css for css, label in found}


def test_a_label_keeps_its_colour_when_the_data_changes(world) -> None:
    """Sadness kept its colour while fear came and went (the walk saw red, then purple)."""
    dataset, samples, des_map = world
    client = _client(member(AUDITOR))
    Adjudication.objects.create(sample=samples[2], emotion="sadness", confidence=5, version=3)
    first = _swatches(client, des_map)
    assert set(first) == {"awe", "anger", "sadness", "no final label"}
    cache.clear()  # the colouring is kept 30 s
    Adjudication.objects.create(sample=samples[6], emotion="fear", confidence=5, version=3)
    Adjudication.objects.create(sample=samples[10], emotion="amusement", confidence=5, version=3)
    second = _swatches(client, des_map)
    assert {"fear", "amusement"} <= set(second)
    assert all(second[label] == css for label, css in first.items())
    labels = list(dataset.taxonomy.labels)
    assert second["sadness"] == f"des-c{labels.index('sadness') + 1}"
    assert len(set(second.values())) == len(second)  # eight labels: eight colours


def test_blind_samples_stay_grey_for_their_annotator(world) -> None:
    _, samples, des_map = world
    person = member(AUDITOR, ANNOTATOR)
    lease(samples[0], person)  # agreed: its label would be awe
    codes = _client(person).get(reverse("review:map_codes", args=[des_map.pk]) + "?by=emotion")
    values = np.frombuffer(codes.content, np.uint8)
    assert values[0] == 0 and values[4] != 0


def test_entropy_without_posteriors_is_all_none(world) -> None:
    _, samples, des_map = world
    url = reverse("review:map_codes", args=[des_map.pk]) + "?by=entropy"
    codes = np.frombuffer(_client(member(AUDITOR)).get(url).content, np.uint8)
    assert codes.tolist() == [0] * len(samples)


def _wire(client, des_map) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    body = client.get(reverse("review:map_points", args=[des_map.pk])).content
    n = int(np.frombuffer(body, "<u4", 1)[0])
    return (
        np.frombuffer(body, "<u2", n, 4),
        np.frombuffer(body, "<u2", n, 4 + 2 * n),
        np.frombuffer(body, "<i4", n, 4 + 4 * n),
    )


def test_a_box_becomes_a_selection_the_queue_filters_by(world) -> None:
    dataset, _, des_map = world
    client = _client(member(AUDITOR))
    qx, _qy, ids = _wire(client, des_map)
    cut = float(np.median(qx))
    box = f"0,0 {cut},0 {cut},{QUANT_MAX} 0,{QUANT_MAX}"
    response = client.post(reverse("review:map_select", args=[des_map.pk]), {"polygon": box})
    assert response.status_code == 302
    query = parse_qs(urlparse(response["Location"]).query)
    assert urlparse(response["Location"]).path == reverse("review:queue")
    token = query["selection"][0]
    assert query["dataset"] == [str(dataset.pk)]
    q = selection_filter(selection=token, dataset_id=dataset.pk)
    assert q is not None
    picked = set(Sample.objects.filter(q).values_list("id", flat=True))
    assert picked == {int(i) for i in ids[qx < cut]}  # the right edge is outside (even-odd)
    assert MapSelection.objects.get(token=token).n_samples == len(picked) > 0


def test_a_lasso_selects_what_lies_inside_and_bad_polygons_are_400(world) -> None:
    dataset, _, des_map = world
    client = _client(member(AUDITOR))
    qx, qy, ids = _wire(client, des_map)
    triangle = f"0,0 {QUANT_MAX},0 0,{QUANT_MAX}"
    url = reverse("review:map_select", args=[des_map.pk])
    token = parse_qs(urlparse(client.post(url, {"polygon": triangle})["Location"]).query)
    q = selection_filter(selection=token["selection"][0], dataset_id=dataset.pk)
    assert q is not None
    inside = qx.astype(float) + qy.astype(float) < QUANT_MAX
    assert set(Sample.objects.filter(q).values_list("id", flat=True)) == set(ids[inside].tolist())
    for bad in ["", "1,2 3,4", "0,0 1,1 x,y", f"0,0 {3 * QUANT_MAX},0 0,5"]:
        assert client.post(url, {"polygon": bad}).status_code == 400, bad


def test_a_deleted_sample_is_left_out_of_a_selection(world) -> None:
    dataset, samples, des_map = world
    client = _client(member(AUDITOR))
    qx, qy, ids = _wire(client, des_map)
    gone = samples[0].pk
    samples[0].delete()  # after the map was computed: still on it
    url = reverse("review:map_select", args=[des_map.pk])
    location = client.post(url, {"polygon": "0,0 65535,0 65535,65535 0,65535"})["Location"]
    token = parse_qs(urlparse(location).query)["selection"][0]
    # The even-odd rule leaves points on the right and bottom edges out.
    kept = set(ids[(qx < QUANT_MAX) & (qy < QUANT_MAX)].tolist()) - {gone}
    q = selection_filter(selection=token, dataset_id=dataset.pk)
    assert q is not None
    assert set(Sample.objects.filter(q).values_list("id", flat=True)) == kept
    assert MapSelection.objects.get(token=token).n_samples == len(kept)


def test_the_page_asks_for_a_map_when_there_is_none(
    django_capture_on_commit_callbacks, settings
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # no broker, as the PostgreSQL leg has one
    dataset = DatasetFactory.create()
    for i in range(5):
        des = np.random.default_rng(i).normal(size=8).astype("<f4").tobytes()
        SampleFactory.create(dataset=dataset, des=des)
    client = _client(member(AUDITOR))
    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(f"{reverse('review:des_map')}?dataset={dataset.pk}")
    assert page.status_code == 200
    des_map = DesMap.objects.get(dataset=dataset)
    assert des_map.status == DesMap.Status.DONE  # no broker: computed in-process
    again = client.get(f"{reverse('review:des_map')}?dataset={dataset.pk}")
    assert reverse("review:map_points", args=[des_map.pk]) in again.content.decode()
    assert DesMap.objects.filter(dataset=dataset).count() == 1  # nothing changed: no new map
    response = client.post(reverse("review:map_recompute", args=[dataset.pk]), {"method": "pca"})
    assert response.status_code == 302
    assert DesMap.objects.filter(dataset=dataset).count() == 2  # asked: a new one


def test_entropy_codes_bin_the_posteriors_from_certain_to_uniform(world) -> None:
    dataset, samples, des_map = world
    fit = ConsensusFit.objects.create(dataset=dataset, status=ConsensusFit.Status.DONE)
    top = np.log2(len(dataset.taxonomy.labels))  # 3 bits for 8 labels
    bits = {samples[0].pk: 0.0, samples[1].pk: top / 2 + 0.01, samples[2].pk: top}
    for pk, entropy in bits.items():
        SamplePosterior.objects.create(
            sample_id=pk, dataset=dataset, fit=fit, probs=b"", label="awe", p_label=0.5,
            entropy=entropy, expected_change=0.1,
        )  # fmt: skip
    url = reverse("review:map_codes", args=[des_map.pk]) + "?by=entropy"
    codes = np.frombuffer(_client(member(AUDITOR)).get(url).content, np.uint8)
    assert codes[:4].tolist() == [1, 5, 8, 0]  # bins 1..8; 0 = no posterior
    legend = _client(member(AUDITOR)).get(
        reverse("review:map_legend", args=[des_map.pk]) + "?by=entropy"
    )
    assert "no posterior" in legend.content.decode() and "des-s8" in legend.content.decode()


def test_selections_older_than_a_week_go_when_a_new_one_is_made(world) -> None:
    dataset, _, des_map = world
    client = _client(member(AUDITOR))
    url = reverse("review:map_select", args=[des_map.pk])
    everything = "-1,-1 65536,-1 65536,65536 -1,65536"
    old = parse_qs(urlparse(client.post(url, {"polygon": everything})["Location"]).query)
    token = old["selection"][0]
    week_ago = timezone.now() - timedelta(days=7, minutes=1)
    MapSelection.objects.filter(token=token).update(created_at=week_ago)
    assert MapSelectionSample.objects.filter(selection__token=token).count() == 24
    client.post(url, {"polygon": everything})
    assert not MapSelection.objects.filter(token=token).exists()
    assert selection_filter(selection=token, dataset_id=dataset.pk) is None
    assert MapSelectionSample.objects.count() == 24  # the new selection's rows only


def test_the_recompute_hint_shows_when_des_vectors_change_not_when_labels_do(world) -> None:
    dataset, samples, des_map = world
    client = _client(member(AUDITOR))
    url = f"{reverse('review:des_map')}?dataset={dataset.pk}"
    hint = "The DES vectors changed since: recompute to map them."
    assert hint not in client.get(url).content.decode()
    for sample in samples[5:15]:  # people review: status and updated_at move, the DES do not
        sample.status = Sample.Status.ADJUDICATED
        sample.save()
    page = client.get(url).content.decode()
    assert hint not in page and reverse("review:map_points", args=[des_map.pk]) in page
    middle = samples[12]  # a re-import rewrites every vector, the probed ends among them
    for sample in (samples[0], middle, samples[-1]):
        Sample.objects.filter(pk=sample.pk).update(des=np.ones(32, "<f4").tobytes())
    assert hint in client.get(url).content.decode()


UMAP_HINT = 'pip install -c constraints.txt -e ".[map]"'


def test_umap_is_offered_disabled_with_the_install_hint_when_umap_is_missing(world) -> None:
    if importlib.util.find_spec("umap") is not None:
        pytest.skip("umap-learn is installed here")
    dataset, _, _ = world
    client = _client(member(AUDITOR))
    page = client.get(f"{reverse('review:des_map')}?dataset={dataset.pk}").content.decode()
    option = re.search(r'<option value="umap"[^>]*>[^<]*</option>', page)
    assert option is not None
    assert " disabled" in option.group(0) and "UMAP (needs the map extra)" in option.group(0)
    assert escape(UMAP_HINT) in page
    # Asked for anyway (an old link): the hint, no job that could only fail, no Recompute.
    url = f"{reverse('review:des_map')}?dataset={dataset.pk}&method=umap"
    text = client.get(url).content.decode()
    assert 'id="des-map-missing"' in text and escape(UMAP_HINT) in text
    assert "Recompute" not in text and "The last map failed" not in text
    assert not DesMap.objects.filter(dataset=dataset, method=DesMap.Method.UMAP).exists()
    response = client.post(reverse("review:map_recompute", args=[dataset.pk]), {"method": "umap"})
    assert response.status_code == 400 and UMAP_HINT in response.content.decode()
    assert not DesMap.objects.filter(dataset=dataset, method=DesMap.Method.UMAP).exists()


def test_umap_is_offered_when_its_module_can_be_found(world, tmp_path, monkeypatch) -> None:
    (tmp_path / "umap").mkdir()
    (tmp_path / "umap" / "__init__.py").write_text("")  # found, never imported by the page
    monkeypatch.syspath_prepend(str(tmp_path))
    dataset, _, _ = world
    page = _client(member(AUDITOR)).get(f"{reverse('review:des_map')}?dataset={dataset.pk}")
    option = re.search(r'<option value="umap"[^>]*>[^<]*</option>', page.content.decode())
    assert option is not None and " disabled" not in option.group(0)
    assert option.group(0).endswith(">UMAP</option>")
    assert "umap" not in sys.modules
