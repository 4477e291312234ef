"""People with each role, for the review tests."""

from __future__ import annotations

import pytest

from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from tests.review.team import member


@pytest.fixture
def annotator(db):
    return member(ANNOTATOR)


@pytest.fixture
def adjudicator(db):
    return member(ADJUDICATOR)


@pytest.fixture
def auditor(db):
    return member(AUDITOR)
