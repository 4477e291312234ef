"""The permission matrix: every page and API endpoint x every role (and anonymous).

Each cell is the status the person gets. Web pages send anonymous people to the login page
(LOGIN); the API answers them 401. A refused signed-in person gets 403 on both. The API's
cells equal the web page's for the same action (the parity test below checks that).

Roles: "nobody" is signed in without a role; "leaseholder" is an annotator holding a lease on
the sample; "annotator" holds none; "admin" holds every role (and no lease).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from rest_framework.authtoken.models import Token

from review.roles import ADJUDICATOR, ANNOTATOR
from tests.factories import AdjudicationFactory, AdminFactory, DatasetFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "nobody", "annotator", "leaseholder", "adjudicator", "auditor", "admin"]
LOGIN = "login"
SIGNED_IN = ROLES[1:]


@dataclass(frozen=True)
class Cell:
    name: str
    method: str
    path: Any  # (sample_pk) -> str; None when the page is not installed
    allowed: dict[str, int]
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False

    def expected(self, role: str) -> int | str:
        if role in self.allowed:
            return self.allowed[role]
        if role == "anonymous":
            return 401 if self.api else LOGIN
        return 403


def _web(name: str, *, sample_arg: bool = True, query: str = "") -> Any:
    def path(pk: int) -> str | None:
        try:
            url = reverse(name, args=[pk] if sample_arg else [])
        except NoReverseMatch:
            return None
        return url + query

    return path


LABEL = {"emotion": "fear", "confidence": "6", "background": "", "attribute": "", "subject": ""}
VIEWERS = {"leaseholder": 200, "adjudicator": 200, "auditor": 200, "admin": 200}
SEE_ALL = {"adjudicator": 200, "auditor": 200, "admin": 200}

WEB = [
    Cell(
        "queue",
        "get",
        _web("review:queue", sample_arg=False),
        {r: 200 for r in ("annotator", "leaseholder", "adjudicator", "auditor", "admin")},
    ),
    Cell(
        "next",
        "get",
        _web("review:next", sample_arg=False),
        {"annotator": 302, "leaseholder": 302, "adjudicator": 302, "admin": 302},
    ),
    Cell("sample", "get", _web("review:sample"), VIEWERS),
    Cell("sample_image", "get", _web("review:sample_image"), VIEWERS),
    Cell("answer", "post", _web("review:answer"), {"leaseholder": 302}, LABEL),
    Cell("skip", "post", _web("review:skip"), {"leaseholder": 302}),
    Cell(
        "adjudicate",
        "post",
        _web("review:adjudicate"),
        {"adjudicator": 302, "admin": 302},
        {**LABEL, "base_version": "1"},
    ),
    Cell(
        "draft",
        "post",
        _web("review:draft"),
        {"leaseholder": 302, "adjudicator": 302, "admin": 302},
        LABEL,
    ),
    Cell("history", "get", _web("review:history"), SEE_ALL),
    Cell("undo", "post", _web("review:undo"), {"admin": 302}, {"version": "1"}),
    # Admin pages (issue 2) and other helpers' pages, when installed.
    Cell("export", "get", _web("review:export", sample_arg=False), {"admin": 200}),
    Cell(
        "export_download",
        "get",
        _web("review:export_download", sample_arg=False, query="?scope=bogus"),
        {"admin": 400},
    ),
    Cell("import", "get", _web("review:import", sample_arg=False), {"admin": 200}),
    Cell("runs", "get", _web("review:runs", sample_arg=False), {"admin": 200}),
    Cell(
        "audit",
        "get",
        _web("review:audit", sample_arg=False),
        {"auditor": 200, "admin": 200},
    ),
]

API = [
    Cell(
        "api_queue",
        "get",
        lambda pk: "/api/queue/",
        {r: 200 for r in ("annotator", "leaseholder", "adjudicator", "auditor", "admin")},
        api=True,
    ),
    Cell(
        "api_next",
        "post",
        lambda pk: "/api/next/",
        # The sample is still open: annotators get a lease on it; nothing waits for an
        # adjudicator (no answers yet).
        {"annotator": 200, "leaseholder": 200, "adjudicator": 204, "admin": 200},
        api=True,
    ),
    Cell("api_sample", "get", lambda pk: f"/api/samples/{pk}/", VIEWERS, api=True),
    Cell(
        "api_answer",
        "post",
        lambda pk: f"/api/samples/{pk}/answer/",
        {"leaseholder": 201},
        LABEL,
        api=True,
    ),
    Cell("api_skip", "post", lambda pk: f"/api/samples/{pk}/skip/", {"leaseholder": 204}, api=True),
    Cell(
        "api_adjudication_get",
        "get",
        lambda pk: f"/api/samples/{pk}/adjudication/",
        SEE_ALL,
        api=True,
    ),
    Cell(
        "api_adjudicate",
        "post",
        lambda pk: f"/api/samples/{pk}/adjudication/",
        {"adjudicator": 201, "admin": 201},
        {**LABEL, "base_version": "1"},
        api=True,
    ),
    Cell(
        "api_undo",
        "post",
        lambda pk: f"/api/samples/{pk}/adjudication/undo/",
        {"admin": 200},
        {"version": "1"},
        api=True,
    ),
    Cell("api_history", "get", lambda pk: f"/api/samples/{pk}/history/", SEE_ALL, api=True),
    # The schema and its docs page need a signed-in person (API_DOCS_PUBLIC opens them).
    Cell("api_schema", "get", lambda pk: "/api/schema/", dict.fromkeys(SIGNED_IN, 200), api=True),
    Cell("api_docs", "get", lambda pk: "/api/docs/", dict.fromkeys(SIGNED_IN, 200)),
]

# Web page -> API endpoint doing the same thing: same people allowed (status codes differ).
PARITY = {
    "queue": "api_queue",
    "sample": "api_sample",
    "answer": "api_answer",
    "skip": "api_skip",
    "adjudicate": "api_adjudicate",
    "history": "api_history",
    "undo": "api_undo",
}


@pytest.fixture
def world(images_root):
    """A disputed sample (k = 2) with a decision by another adjudicator (version 1)."""
    ds = DatasetFactory.create(images_root=str(images_root), overlap_k=2)
    sample = SampleFactory.create(dataset=ds, image_path="a.jpg")
    AdjudicationFactory.create(sample=sample, version=1, annotator=member(ADJUDICATOR))
    return sample


def _person(role: str, sample: Any) -> Any:
    if role == "anonymous":
        return None
    if role == "admin":
        return AdminFactory()
    roles = {"annotator": [ANNOTATOR], "leaseholder": [ANNOTATOR], "nobody": []}
    person = member(*roles.get(role, [role]))
    if role == "leaseholder":
        lease(sample, person)
    return person


def _request(cell: Cell, role: str, sample: Any) -> Any:
    path = cell.path(sample.pk)
    if path is None:
        pytest.skip(f"{cell.name} is not installed")
    person = _person(role, sample)
    client = Client()
    headers = {}
    if person is not None and cell.api:
        headers["Authorization"] = f"Token {Token.objects.create(user=person).key}"
    elif person is not None:
        client.force_login(person)
    return getattr(client, cell.method)(path, cell.data, headers=headers)


def _status(response: Any) -> int | str:
    if response.status_code == 302 and response.url.startswith(reverse("login")):
        return LOGIN
    return response.status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("cell", WEB + API, ids=lambda c: c.name)
def test_matrix(cell: Cell, role: str, world) -> None:
    assert _status(_request(cell, role, world)) == cell.expected(role)


@pytest.mark.parametrize(("page", "endpoint"), PARITY.items())
def test_the_api_allows_exactly_whom_the_page_allows(page: str, endpoint: str) -> None:
    web = next(c for c in WEB if c.name == page)
    api = next(c for c in API if c.name == endpoint)
    assert set(web.allowed) == set(api.allowed)


def test_the_author_may_undo_their_own_decision(client, world) -> None:
    author = world.adjudications.get().annotator
    client.force_login(author)
    response = client.post(reverse("review:undo", args=[world.pk]), {"version": "1"})
    assert response.status_code == 302
    assert world.adjudications.get().reverted
