"""schemathesis against the served schema (/api/schema/ through the WSGI app), with every role's
token and none: no server error, and every response matches what the schema says it is.

Bounded and deterministic: EXAMPLES cases per operation, role and variant (data that fits the
schema with drawn or real sample ids, data that does not), derandomized; each request is rolled
back (a savepoint), so every case meets the same data: a disputed sample with a critic verdict
and a lease for the annotator, a decided one with versions and history, ids that do not exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from PIL import Image
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotator.lib.rle import encode_mask
from annotator.models import Sample
from review.models import ExportJob, MaskEdit
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from review.services.export_jobs import run_export_job
from tests.factories import (
    DEFAULT_PASSWORD,
    AdjudicationFactory,
    AdminFactory,
    CriticVerdictFactory,
    DatasetFactory,
    ProposalFactory,
    RegionFactory,
    SampleFactory,
)
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

# Cases per operation x role x variant (~1,000 requests at 6 before the datasets and exports
# endpoints came: about 30 s on SQLite, a minute on PostgreSQL; with them 4 min 44 s on SQLite
# on a shared machine under heavy load, 2026-12-03); SCHEMATHESIS_EXAMPLES=100 for a deeper run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
# Every status documented, its content type too, and every JSON body matching its schema.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ["anonymous", "annotator", "adjudicator", "auditor", "admin"]


def _isolated(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """The WSGI app, each request inside a savepoint rolled back afterwards (a request that
    broke the transaction cannot break the next ones; every case meets the same data)."""

    def call(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        savepoint = transaction.savepoint()
        try:
            result = app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                getattr(result, "close", lambda: None)()
        finally:
            transaction.savepoint_rollback(savepoint)

    return call


@pytest.fixture
def wsgi_app() -> Iterator[Callable[..., list[bytes]]]:
    # As Django's test client does: the request signals must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield _isolated(get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(tmp_path, settings) -> dict[str, Any]:
    """The data every case meets, and each role's Authorization header: an image, a masked
    region, an accepted person mask, a finished export job (its files) and a pending one."""
    settings.IMPORT_ROOTS = [*settings.IMPORT_ROOTS, tmp_path.resolve()]
    settings.EXPORT_ROOT = tmp_path / "exports"
    Image.new("RGB", (64, 48), "green").save(tmp_path / "disputed.png")
    ds = DatasetFactory.create(name="fuzz", overlap_k=1, images_root=str(tmp_path))
    disputed = SampleFactory.create(dataset=ds, external_id="disputed", image_path="disputed.png")
    ProposalFactory.create(sample=disputed, model_name="gpt-4o", emotion="awe")
    CriticVerdictFactory.create(sample=disputed)
    mask = np.zeros((48, 64), dtype=bool)
    mask[4:20, 8:30] = True
    RegionFactory.create(sample=disputed, mask=encode_mask(mask), score=0.5)
    decided = SampleFactory.create(dataset=ds, external_id="decided")
    judge = member(ADJUDICATOR)
    for version in (1, 2):
        AdjudicationFactory.create(sample=decided, version=version, annotator=judge)
    Sample.objects.filter(pk=decided.pk).update(status=Sample.Status.ADJUDICATED)
    people = {
        "annotator": member(ANNOTATOR),
        "adjudicator": judge,
        "auditor": member(AUDITOR),
        "admin": AdminFactory.create(),
    }
    lease(disputed, people["annotator"])
    MaskEdit.objects.create(
        sample=disputed, role="subject", author=people["annotator"], seq=1, status="done",
        accepted_at=disputed.created_at, candidates=[{"rle": encode_mask(mask), "score": 0.9}],
    )  # fmt: skip
    done = ExportJob.objects.create(dataset=ds, fmt="csv", scope="all")
    assert run_export_job(job_id=done.pk) == "done"
    pending = ExportJob.objects.create(dataset=ds, fmt="parquet", sent_at=timezone.now())
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, person in people.items():
        headers[role] = {"Authorization": f"Token {Token.objects.create(user=person).key}"}
    return {
        "headers": headers,
        "ids": [disputed.pk, decided.pk],
        "jobs": [done.pk, pending.pk],
        "datasets": [str(ds.pk), ds.name],
    }


def _run(operation: Any, mode: GenerationMode, fixed: dict[str, Any], auth: dict[str, str]):
    """EXAMPLES cases of one operation; the first failure's text, or None."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def cases(case: Any) -> None:
        if failures:
            return
        response = case.call(headers=auth)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as failure:  # schemathesis' FailureGroup
            found = getattr(failure, "exceptions", [failure])
            text = " | ".join(f"{type(f).__name__}: {str(f)[:400]}" for f in found)
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {text}"
            )

    try:
        cases()
    except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters)
        assert mode == GenerationMode.NEGATIVE
    return failures[0] if failures else None


def _variants(operation: Any, world: dict[str, Any]) -> list[tuple[GenerationMode, dict[str, Any]]]:
    """Valid data with drawn path ids (mostly missing) and with each real object's id (a
    sample's, an export job's, a dataset's id and name); invalid data where the operation
    takes any (an operation with no input has no invalid case)."""
    variants: list[tuple[GenerationMode, dict[str, Any]]] = [(GenerationMode.POSITIVE, {})]
    names = {p.name for p in operation.path_parameters}
    if "id" in names:
        ids = world["jobs"] if "/api/exports/" in operation.path else world["ids"]
        variants += [(GenerationMode.POSITIVE, {"id": pk}) for pk in ids]
    if "ref" in names:
        variants += [(GenerationMode.POSITIVE, {"ref": ref}) for ref in world["datasets"]]
    takes_input = any(
        [operation.path_parameters, operation.query, operation.headers, operation.body]
    )
    if takes_input:
        variants.append((GenerationMode.NEGATIVE, {}))
    return variants


def test_the_served_schema_holds_for_every_role(wsgi_app, world):
    headers = world["headers"]
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=headers["admin"])
    failures = {}
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # Err raises: a broken schema
        for role in ROLES:
            for mode, fixed in _variants(operation, world):
                failure = _run(operation, mode, fixed, headers[role])
                if failure:
                    failures[f"{operation.label} as {role} ({mode}, {fixed})"] = failure
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def test_a_real_sign_in_matches_the_schema(wsgi_app, world):
    # Drawn usernames never sign in: the 200 needs a real one.
    person = member(ANNOTATOR)
    admin = world["headers"]["admin"]
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=admin)
    operation = schema["/api/token/"]["POST"]
    body = {"username": person.username, "password": DEFAULT_PASSWORD}
    case = operation.Case(body=body, media_type="application/json")
    response = case.call()
    assert response.status_code == 200
    case.validate_response(response, checks=CHECKS)


def test_a_real_export_start_matches_the_schema(wsgi_app, world):
    # Drawn dataset names never exist: the 202 needs a real one.
    admin = world["headers"]["admin"]
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=admin)
    operation = schema["/api/exports/"]["POST"]
    body: dict[str, Any] = {"dataset": "fuzz", "format": "coco", "scope": "all"}
    case = operation.Case(body=body, media_type="application/json")
    response = case.call(headers=admin)
    assert response.status_code == 202
    case.validate_response(response, checks=CHECKS)
