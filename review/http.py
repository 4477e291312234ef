"""htmx helpers and error answers a person can read, wherever the request came from.

Views type their request as `HtmxHttpRequest` and ask `wants_partial` whether to render a
fragment (`_thing.html`) or the whole page.

An htmx request swaps its answer into part of a page, so a whole page (the login form, Django's
403/404/500 pages) must never be its answer: htmx requests get a short plain-text message with
the right status, which static/js/errors.js shows next to what the person acted on. Requests
from a signed-out person get 401 and where to sign in (back to the page they were on).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails

LOGIN_URL_HEADER = "X-Login-Url"  # read by static/js/errors.js
SESSION_ENDED = "Your session ended: sign in again."
STALE_PAGE = "This page is out of date (you signed in or out elsewhere): reload it."
MESSAGES = {
    400: "The server could not read this request.",
    403: "You are not allowed to do this.",
    404: "Not found: it may have been removed.",
    405: "This action is not available here.",
    413: "Too large to send.",
}
NOTHING_SAVED = "Nothing was saved."


class HtmxHttpRequest(HttpRequest):
    """HttpRequest as django-htmx's middleware leaves it (for type checkers)."""

    htmx: HtmxDetails


def htmx_details(request: HttpRequest) -> HtmxDetails | None:
    """django-htmx's details when this is an htmx request (not a history restore), else None."""
    details: HtmxDetails | None = getattr(request, "htmx", None)
    if not details or details.history_restore_request:
        return None
    return details


def wants_partial(request: HtmxHttpRequest) -> bool:
    """An htmx swap asks for a fragment; a history restore after a cache miss needs the page."""
    return htmx_details(request) is not None


def error_message(request: HttpRequest, status: int, text: str = "") -> str:
    """`text` (else a default for the status), saying that a write did not happen."""
    if not text:
        if status >= 500:
            text = f"The server failed (error {status}). Try again in a moment."
        else:
            text = MESSAGES.get(status, f"The request was refused (error {status}).")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return text
    return f"{text} {NOTHING_SAVED}"


def short_error(status: int, message: str) -> HttpResponse:
    """A short plain-text answer for htmx: errors.js shows it; it never replaces a form."""
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _local_path(request: HttpRequest, url: str | None) -> str | None:
    """The path (and query) of `url` when it points at this site, else None."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path or None


def page_to_return_to(request: HttpRequest) -> str:
    """The page the person was on: the URL htmx says it was sent from, else the Referer for a
    form POST (its own URL answers only POST), else this URL; the queue as a last resort."""
    details = htmx_details(request)
    if details is not None and details.current_url_abs_path:
        return details.current_url_abs_path
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = _local_path(request, request.headers.get("Referer"))
    if referer:
        return referer
    return reverse("review:queue")


def login_url(request: HttpRequest, *, ended: bool = True) -> str:
    """The login page, back to the page the person was on; `ended` makes it say why."""
    url = redirect_to_login(page_to_return_to(request))["Location"]
    return f"{url}&ended=1" if ended else url


def session_ended(request: HttpRequest) -> HttpResponse:
    """401 for an htmx request from a signed-out person: a message and where to sign in."""
    response = short_error(401, SESSION_ENDED)
    response[LOGIN_URL_HEADER] = login_url(request)
    response["WWW-Authenticate"] = 'Session realm="EmoReview"'
    return response


def is_login_redirect(response: HttpResponse) -> bool:
    if response.status_code != 302 or not response.has_header("Location"):
        return False
    login = resolve_url(settings.LOGIN_URL)
    return str(response["Location"]).split("?", 1)[0] == login


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A refused security token: usually a page opened before signing in or out elsewhere."""
    if not request.user.is_authenticated:
        if htmx_details(request) is not None:
            return session_ended(request)
        return HttpResponseRedirect(login_url(request))
    if htmx_details(request) is not None:
        return short_error(403, error_message(request, 403, STALE_PAGE))
    return render(request, "403.html", {"exception": STALE_PAGE}, status=403)
