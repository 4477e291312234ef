"""Every cell of tests/review/permission_matrix.py, asserted by a real request.

One world per kind of dataset (plain, machine-blind, k = 1); each request runs in a savepoint
that is rolled back, so a POST that works (an answer, a skip, an undo) leaves the world as it
was for the next cell. Mismatches are collected and reported together, one line per cell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token

from annotator.lib.rle import encode_mask
from annotator.models import PipelineRun, Sample
from review.models import Adjudication, Annotation, Assignment, ExportJob
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from review.services import history
from tests.factories import (
    AdminFactory,
    DatasetFactory,
    ProposalFactory,
    RegionFactory,
    SampleFactory,
)
from tests.review.permission_matrix import (
    DATASET,
    DATASETS,
    FINAL_NOTE,
    JOB,
    LOGIN,
    MASK,
    OTHERS_NOTE,
    PERSONAS,
    ROWS,
    RUN,
    SAMPLE,
    TABLE,
    UNDECIDED,
    Row,
)
from tests.review.team import member

pytestmark = pytest.mark.django_db

KINDS = {
    "plain": {"overlap_k": 2},
    "machine_blind": {"overlap_k": 2, "machine_blind": True},
    "k1": {"overlap_k": 1},
    "open": {"overlap_k": 3},  # no final label yet: an answer may still change
}
MASK_ROLE = "subject"
AUDIT_TABLE = "models"


def url_keys() -> list[str]:
    """Every URL pattern of the project: its "namespace:name" (its route when unnamed); the
    admin site's patterns are one key, "admin:*"."""
    keys: list[str] = []

    def walk(resolver: URLResolver, prefix: str, namespace: str | None) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                if inner:
                    inner = f"{namespace}:{inner}" if namespace else inner
                walk(pattern, prefix + str(pattern.pattern), inner or namespace)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                if namespace == "admin":
                    name = "admin:*"
                keys.append(name or prefix + str(pattern.pattern))

    walk(get_resolver(), "", None)
    return keys


def test_every_url_pattern_has_a_row() -> None:
    rows = {row.url for row in ROWS}
    missing = sorted(set(url_keys()) - rows)
    assert not missing, f"add these URLs to tests/review/permission_matrix.py: {missing}"
    assert not rows - set(url_keys()), "rows for URLs that do not exist"


@dataclass
class World:
    samples: dict[str, Sample]
    run: PipelineRun
    job: ExportJob
    sessions: dict[str, str]  # persona -> session key
    tokens: dict[str, str]  # persona -> API token
    client: Client


def _people() -> dict[str, Any]:
    return {
        "anonymous": None,
        "nobody": member(),
        "annotator": member(ANNOTATOR),
        "leaseholder": member(ANNOTATOR),
        "answered": member(ANNOTATOR),
        "skipped": member(ANNOTATOR),
        "adjudicator": member(ADJUDICATOR),
        "auditor": member(AUDITOR),
        "admin": AdminFactory(),
        "dual": member(ANNOTATOR, ADJUDICATOR),
        "admin_lease": AdminFactory(),
    }


def _lease(sample: Sample, person: Any, status: str) -> None:
    Assignment.objects.create(
        sample=sample,
        annotator=person,
        kind=Assignment.Kind.ANNOTATE,
        status=status,
        expires_at=timezone.now() + timedelta(hours=1),
    )


def _decide(sample: Sample, judge: Any) -> None:
    final = Adjudication.objects.create(
        sample=sample, annotator=judge, version=1, emotion="awe", confidence=8, notes=FINAL_NOTE
    )
    after = history.adjudication_snapshot(final)
    history.record_event(sample=sample, actor=judge, action=history.DECIDE, after=after)


def _sample(kind: str, root: Any, people: dict[str, Any]) -> Sample:
    """A decided sample (an open one on the "open" dataset): another person's answer, a final
    label by another adjudicator, the machines' proposal and a masked region; each persona's
    relation to it."""
    dataset = DatasetFactory.create(images_root=str(root), **KINDS[kind])
    Image.new("RGB", (64, 48), "red").save(root / f"{kind}.png")
    decided = kind not in UNDECIDED
    status = Sample.Status.ADJUDICATED if decided else Sample.Status.DISPUTED
    sample = SampleFactory.create(dataset=dataset, image_path=f"{kind}.png", status=status)
    ProposalFactory.create(sample=sample, model_name="gpt-4o")
    mask = np.zeros((48, 64), dtype=bool)
    mask[5:20, 5:30] = True
    RegionFactory.create(sample=sample, role=MASK_ROLE, mask=encode_mask(mask))
    other, judge = member(ANNOTATOR), member(ADJUDICATOR)
    answer = {"emotion": "awe", "confidence": 7.0, "notes": OTHERS_NOTE}
    Annotation.objects.create(sample=sample, annotator=other, **answer)
    history.record_event(sample=sample, actor=other, action=history.ANSWER, after=answer)
    if decided:
        _decide(sample, judge)
    Annotation.objects.create(sample=sample, annotator=people["answered"], emotion="joy")
    _lease(sample, people["answered"], Assignment.Status.SUBMITTED)
    _lease(sample, people["skipped"], Assignment.Status.SKIPPED)
    for persona in ("leaseholder", "dual", "admin_lease"):
        _lease(sample, people[persona], Assignment.Status.ACTIVE)
    return sample


@pytest.fixture
def world(tmp_path, settings, monkeypatch) -> World:
    settings.MASK_WAIT_SECONDS = 0
    # Hundreds of refusals: their warnings (each with a traceback) would cost more than the
    # requests; server errors are still logged.
    monkeypatch.setattr(logging.getLogger("django.request"), "level", logging.ERROR)
    root = tmp_path / "images"
    root.mkdir()
    settings.IMPORT_ROOTS = [*settings.IMPORT_ROOTS, root.resolve()]
    people = _people()
    samples = {kind: _sample(kind, root, people) for kind in DATASETS}
    run = PipelineRun.objects.create(dataset=samples["plain"].dataset)
    # Running under a live lease: no request of the table sends it to a worker again.
    later = timezone.now() + timedelta(days=1)
    job = ExportJob.objects.create(
        dataset=samples["plain"].dataset, fmt="csv", status=ExportJob.Status.RUNNING,
        lease_until=later, sent_at=timezone.now(),
    )  # fmt: skip
    sessions, tokens = {}, {}
    client = Client()
    for persona, person in people.items():
        if person is None:
            continue
        client.cookies.clear()
        client.force_login(person)
        sessions[persona] = client.cookies[settings.SESSION_COOKIE_NAME].value
        tokens[persona] = Token.objects.create(user=person).key
    return World(samples=samples, run=run, job=job, sessions=sessions, tokens=tokens, client=client)


def _paths(row: Row, world: World, dataset: str) -> list[str]:
    if row.url == "admin:*":
        # The admin site guards all its pages alike (AdminSite.admin_view): its index and one
        # model's list stand for them.
        return [reverse("admin:index"), reverse("admin:annotator_sample_changelist")]
    sample = world.samples[dataset]
    arguments: dict[str, list[object]] = {
        SAMPLE: [sample.pk],
        MASK: [sample.pk, MASK_ROLE],
        RUN: [world.run.pk],
        TABLE: [AUDIT_TABLE],
        DATASET: [sample.dataset.pk],
        JOB: [world.job.pk],
    }
    args = arguments.get(row.args, [])
    if row.url == "" or "/" in row.url:  # an unnamed pattern: its route
        return ["/" + row.url]
    return [reverse(row.url, args=args) + row.query.format(dataset_name=sample.dataset.name)]


def _send(row: Row, world: World, persona: str, path: str) -> Any:
    # One client for every cell (a new one loads the middleware, WhiteNoise's file scan
    # included: two thirds of the time); its cookies are set afresh for each request.
    client = world.client
    client.cookies.clear()
    headers: dict[str, str] = {}
    if persona != "anonymous":
        if row.api:
            headers["Authorization"] = f"Token {world.tokens[persona]}"
        else:
            client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[persona]
    savepoint = transaction.savepoint()
    try:
        cache.clear()  # no throttle counts carried from one cell to the next
        return getattr(client, row.method)(path, dict(row.data), headers=headers)
    finally:
        transaction.savepoint_rollback(savepoint)


def _status(response: Any) -> int | str:
    login = resolve_url(settings.LOGIN_URL)
    if response.status_code == 302 and response["Location"].startswith(login):
        return LOGIN
    return response.status_code


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return ""
    return response.content.decode(errors="replace")


def _check(row: Row, world: World, persona: str, dataset: str) -> list[str]:
    """What differs from the table for this cell (empty when it matches)."""
    problems = []
    expected = row.expected(persona, dataset)
    for path in _paths(row, world, dataset):
        response = _send(row, world, persona, path)
        got = _status(response)
        where = f"{row.method.upper()} {path} [{dataset}] {persona}"
        if got != expected and not (isinstance(expected, frozenset) and got in expected):
            problems.append(f"{where}: {got}, table says {expected}")
            continue
        if row.method != "get" or got != 200 or not (row.others or row.final):
            continue
        body = _body(response)
        final = row.final if dataset not in UNDECIDED else frozenset()
        for marker, whom, what in ((OTHERS_NOTE, row.others, "others' answers"),
                                   (FINAL_NOTE, final, "the final label")):  # fmt: skip
            if (marker in body) != (persona in whom):
                shown = "shows" if marker in body else "hides"
                problems.append(f"{where}: {shown} {what}")
    return problems


@pytest.mark.parametrize("dataset", DATASETS)
def test_sample_rows_match_the_table(world: World, dataset: str) -> None:
    problems = [
        problem
        for row in ROWS
        if row.per_sample
        for persona in PERSONAS
        for problem in _check(row, world, persona, dataset)
    ]
    assert not problems, "\n".join(problems)


def test_rows_without_a_sample_match_the_table(world: World) -> None:
    problems = [
        problem
        for row in ROWS
        if not row.per_sample
        for persona in PERSONAS
        for problem in _check(row, world, persona, "plain")
    ]
    assert not problems, "\n".join(problems)
