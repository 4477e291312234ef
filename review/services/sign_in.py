"""Sign-in throttling: after SIGN_IN_MAX_FAILURES wrong passwords for one username from one
address within SIGN_IN_WINDOW_SECONDS, that pair is refused, even with the right password,
until the window passes. The login page and /api/token/ both ask here.

Counts live in Django's cache (CACHES: Redis when CACHE_URL is set, shared by every web
process; else each process counts on its own). A successful sign-in clears the count.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.settings import api_settings


class SignInRefused(Exception):
    """Too many failures for this username from this address: `retry_after` seconds left."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    def __str__(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        return (
            "Too many failed sign-ins for this username from your address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the entry NUM_PROXIES trusted proxies added to
    X-Forwarded-For (REST_FRAMEWORK["NUM_PROXIES"], as DRF's own throttles read it)."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.headers.get("X-Forwarded-For")
    if not proxies or not forwarded:
        return remote
    hops = forwarded.split(",")
    return hops[-min(proxies, len(hops))].strip()


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\n{address}".encode()).hexdigest()
    return f"sign-in-failures:{digest}"


def check_sign_in_allowed(*, username: str, address: str) -> None:
    """SignInRefused when this username and address used up their failures."""
    key = _key(username, address)
    failures = cache.get(key, 0)
    if failures < settings.SIGN_IN_MAX_FAILURES:
        return
    ends = cache.get(f"{key}:ends", 0)
    raise SignInRefused(retry_after=max(1, int(ends - time.time())))


def record_sign_in_failure(*, username: str, address: str) -> None:
    """Count a wrong password; the window starts at the first failure."""
    key, window = _key(username, address), settings.SIGN_IN_WINDOW_SECONDS
    if cache.add(key, 1, timeout=window):
        cache.set(f"{key}:ends", time.time() + window, timeout=window)
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.set(key, 1, timeout=window)
        cache.set(f"{key}:ends", time.time() + window, timeout=window)


def clear_sign_in_failures(*, username: str, address: str) -> None:
    key = _key(username, address)
    cache.delete_many([key, f"{key}:ends"])
