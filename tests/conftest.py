"""Shared fixtures, and skipping of tests whose real service is not configured."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.core.cache import cache
from PIL import Image

from tests.factories import AdminFactory, DatasetFactory, UserFactory


def _uses_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = {
        "postgres": None if _uses_postgres() else "DATABASE_URL is not PostgreSQL",
        "redis": None if os.environ.get("CELERY_BROKER_URL") else "CELERY_BROKER_URL is unset",
        "browser": None if shutil.which("chromium") else "Debian's chromium is not installed",
    }
    for item in items:
        for marker, reason in reasons.items():
            if reason and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Sign-in failure counts and the token rate live in the cache: one test's never another's.
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_asks() -> None:
    # What the web process asked the workers for lately: one test's asks are never another's.
    from review.services.recent_asks import forget_all

    forget_all()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Real PBKDF2 costs ~0.3 s per login; tests check permissions, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def dataset(db):
    return DatasetFactory()


@pytest.fixture
def images_root(tmp_path: Path, settings) -> Path:
    """A directory of small real images, allowed as an import root."""
    root = tmp_path / "images"
    root.mkdir()
    for name, colour in [("a.jpg", "red"), ("b.jpg", "green"), ("c.png", "blue")]:
        Image.new("RGB", (64, 48), colour).save(root / name)
    settings.IMPORT_ROOTS = [*settings.IMPORT_ROOTS, root.resolve()]
    return root
