"""Error answers for htmx requests, a signed-out form POST that returns to its page, and a
400 for NUL characters in parameters (PostgreSQL refuses them: a 500 deep in a query).

HtmxErrorMiddleware is listed last in settings.MIDDLEWARE (it needs django-htmx's
request.htmx). See review/http.py for the answers themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from review.http import (
    error_message,
    htmx_details,
    is_login_redirect,
    login_url,
    session_ended,
    short_error,
)
from review.validators import NUL_MESSAGE, field_with_nul

Handler = Callable[[HttpRequest], HttpResponse]


class HtmxErrorMiddleware:
    """For htmx: login redirects become 401, refusals and failures short text (never a page).

    Without htmx, a signed-out POST is sent to the login page with next = the page the form was
    on (its own URL answers only POST); everything else is left to Django's 403/404/500 pages.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_login_redirect(response) and response.status_code < 400:
            return response
        if htmx_details(request) is None:
            if _signed_out_post(request, response):
                return HttpResponseRedirect(login_url(request))
            return response
        if is_login_redirect(response):
            return session_ended(request)
        if _is_whole_page(response):
            # Django's 404 for an unknown URL, a 500 page: the fragment gets one line instead.
            status = response.status_code
            return short_error(status, error_message(request, status))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The refusal's own words ("This sample is not assigned to you.") for htmx requests."""
        if htmx_details(request) is None:
            return None
        if isinstance(exception, PermissionDenied):
            return short_error(403, error_message(request, 403, str(exception).strip()))
        if isinstance(exception, Http404):
            return short_error(404, error_message(request, 404, _not_found_text(exception)))
        return None


class RefuseNulMiddleware:
    """400 naming the parameter when a query string or form body holds a NUL character.

    Every text column and jsonb on PostgreSQL refuses NUL, so one in a filter, a lookup or a
    raw form value would be a 500 wherever it reaches a query. Multipart bodies are left to
    the forms (Django's CharField refuses NUL), so that views may still set upload handlers.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        items = list(request.GET.lists())
        if request.content_type == "application/x-www-form-urlencoded":
            items += request.POST.lists()
        field = field_with_nul(items)
        if field is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({field: [NUL_MESSAGE]}, status=400)
        return short_error(400, f"{field}: {NUL_MESSAGE}")


def _not_found_text(exception: Http404) -> str:
    """Http404's own words, except get_object_or_404's ("No Sample matches the given query.")."""
    text = str(exception).strip()
    return "" if text.endswith("matches the given query.") else text


def _is_whole_page(response: HttpResponse) -> bool:
    if getattr(response, "streaming", False):
        return False
    if not str(response.get("Content-Type", "")).startswith("text/html"):
        return False
    head = response.content[:200].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html"))


def _signed_out_post(request: HttpRequest, response: HttpResponse) -> bool:
    """A form POST sent to the login page because the session had ended: not "Log out" itself,
    whose answer is the login page too (it read "Your session ended" after a sign-out)."""
    match = request.resolver_match
    return (
        is_login_redirect(response)
        and request.method not in ("GET", "HEAD")
        and not (match is not None and match.url_name == "logout")
    )
