"""Fixtures the audit's view tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from review.roles import AUDITOR
from review.selectors.audit import clear_audit_cache
from tests.review.team import member


@pytest.fixture
def empty_audit_cache() -> Iterator[None]:
    clear_audit_cache()  # ids repeat between tests, and so could fingerprints
    yield
    clear_audit_cache()


@pytest.fixture
def auditor_client(client: Client) -> Client:
    client.force_login(member(AUDITOR, username="audrey"))
    return client
