"""`manage.py demo --no-serve`, and the bundled demo data it loads."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from annotator.importers.fields import DES_SIZE
from annotator.models import CriticVerdict, Dataset, Proposal, Sample
from annotator.services.demo import DEMO_DIR, DEMO_SAMPLES
from annotator.services.demo_des import stand_in_des
from review.models_consensus import ConsensusFit, SamplePosterior
from review.models_desmap import DesMap
from review.roles import ADJUDICATOR, ANNOTATOR, user_roles

ACCOUNT_LINE = re.compile(r"^\s+(annotator|reviewer|admin)\s+(\S+)\s+\(", re.MULTILINE)


def _run_demo() -> tuple[str, dict[str, str]]:
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    text = out.getvalue()
    return text, dict(ACCOUNT_LINE.findall(text))


def _boxes(value: object) -> list[list[float]]:
    """[x1, y1, x2, y2] (importer format) or [{x1, y1, x2, y2}, ...] (EmoVerse) as corner lists."""
    if not value:
        return []
    if isinstance(value, list) and isinstance(value[0], dict):
        return [[box[k] for k in ("x1", "y1", "x2", "y2")] for box in value]
    assert isinstance(value, list)
    return [value]


def _records() -> list[dict]:
    return [json.loads(line) for line in DEMO_SAMPLES.read_text().splitlines() if line.strip()]


@pytest.mark.django_db
def test_demo_creates_accounts_with_printed_passwords_and_loads_the_dataset():
    text, passwords = _run_demo()

    assert set(passwords) == {"annotator", "reviewer", "admin"}
    annotator = authenticate(username="annotator", password=passwords["annotator"])
    reviewer = authenticate(username="reviewer", password=passwords["reviewer"])
    admin = authenticate(username="admin", password=passwords["admin"])
    assert annotator is not None and not annotator.is_staff
    assert user_roles(annotator) == {ANNOTATOR}
    assert reviewer is not None and not reviewer.is_staff
    assert user_roles(reviewer) == {ADJUDICATOR}
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert "http://127.0.0.1:8000/" in text
    dataset = Dataset.objects.get(name="demo")
    assert dataset.overlap_k == 1 and "Overlap k = 1" in text  # one annotator finishes alone
    # Exports and the datasheet state what the images may be used for.
    assert "CC0" in dataset.licence and "LICENSES.md" in dataset.attribution
    statuses = set(dataset.samples.values_list("status", flat=True))
    assert dataset.samples.count() == len(_records())
    assert {Sample.Status.AGREED, Sample.Status.DISPUTED, Sample.Status.DROPPED} <= statuses


@pytest.mark.django_db
def test_demo_gives_every_sample_a_stand_in_des_computed_from_its_image():
    text, _ = _run_demo()

    samples = list(Sample.objects.filter(dataset__name="demo"))
    assert len(samples) == len(_records())
    for sample in samples:
        assert sample.des is not None and len(sample.des) == DES_SIZE * 4, sample.external_id
        vector = np.frombuffer(bytes(sample.des), dtype="<f4")
        expected = np.asarray(stand_in_des(DEMO_DIR / sample.image_path), dtype="<f4")
        assert np.array_equal(vector, expected), sample.external_id
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    assert "not EmoVerse's DES" in text


@pytest.mark.django_db
def test_demo_fits_the_consensus_and_draws_the_des_map_before_the_first_visit():
    text, _ = _run_demo()

    dataset = Dataset.objects.get(name="demo")
    fit = ConsensusFit.objects.get(dataset=dataset)
    assert fit.status == ConsensusFit.Status.DONE
    posteriors = SamplePosterior.objects.filter(fit=fit)
    assert posteriors.count() == dataset.samples.count()
    des_map = DesMap.objects.get(dataset=dataset)
    assert des_map.status == DesMap.Status.DONE and des_map.method == DesMap.Method.PCA
    assert des_map.n_points == dataset.samples.count()
    assert "consensus fit dawid_skene done; DES map pca done" in text


@pytest.mark.django_db
def test_running_demo_again_keeps_the_data_and_replaces_the_passwords():
    _, first = _run_demo()
    counts = (Sample.objects.count(), Proposal.objects.count(), CriticVerdict.objects.count())
    des = dict(Sample.objects.values_list("external_id", "des"))
    figures = (
        list(ConsensusFit.objects.values_list("pk", "status")),
        list(DesMap.objects.values_list("pk", "status")),
    )

    _, second = _run_demo()

    assert (Sample.objects.count(), Proposal.objects.count(), CriticVerdict.objects.count()) == (
        counts
    )
    assert dict(Sample.objects.values_list("external_id", "des")) == des
    # Nothing was answered in between: the fit and the map stand, no new ones are made.
    assert (
        list(ConsensusFit.objects.values_list("pk", "status")),
        list(DesMap.objects.values_list("pk", "status")),
    ) == figures
    assert second["admin"] != first["admin"]
    assert authenticate(username="admin", password=first["admin"]) is None
    assert authenticate(username="admin", password=second["admin"]) is not None


@pytest.mark.django_db
def test_static_files_and_sample_images_are_served_with_debug_off(settings):
    settings.DEBUG = False
    _, passwords = _run_demo()
    client = Client()
    assert client.login(username="annotator", password=passwords["annotator"])
    # Annotators see what is handed to them: "Start reviewing" leases the first sample.
    leased = client.get(reverse("review:next"))
    sample = Sample.objects.get(pk=int(leased["Location"].rstrip("/").rsplit("/", 1)[-1]))

    css = client.get("/static/css/app.css")
    image = client.get(reverse("review:sample_image", args=[sample.pk]))

    assert css.status_code == 200
    assert b"".join(css.streaming_content).strip()  # type: ignore[attr-defined]
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"


def test_every_demo_image_exists_is_licensed_and_boxes_fit():
    licences = (DEMO_DIR / "LICENSES.md").read_text()
    records = _records()
    named = {record["image_path"] for record in records}
    on_disk = {f"images/{p.name}" for p in (DEMO_DIR / "images").iterdir()}

    assert named == on_disk
    assert sum((DEMO_DIR / p).stat().st_size for p in on_disk) < 3_000_000
    for record in records:
        path = record["image_path"]
        assert f"`{path.removeprefix('images/')}`" in licences, path
        width, height = Image.open(DEMO_DIR / path).size
        for proposal in record.get("proposals", [record]):
            for x1, y1, x2, y2 in _boxes(proposal.get("bbox")):
                assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height, (path, proposal)


def test_demo_has_agreed_disputed_and_every_critic_verdict():
    records = _records()
    verdicts = {r["critic"]["verdict"] for r in records if "critic" in r}
    disputed = [r for r in records if len({p["emotion"] for p in r.get("proposals", [r])}) > 1]

    assert verdicts == {"preserve", "revise", "drop"}
    assert len(records) // 3 <= len(disputed) <= 2 * len(records) // 3
