"""Views of the project itself (not of the review app): /healthz, /favicon.ico."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from annotator.selectors.health import system_health


@csrf_exempt  # nothing to protect; a POST gets 405, not the CSRF failure page
@never_cache
@require_safe
def healthz_view(request: HttpRequest) -> JsonResponse:
    """200 when the database, broker, workers and queues are fine, else 503 naming what fails.
    No sign-in: compose healthchecks and monitors call it; it holds no secret."""
    health = system_health()
    return JsonResponse(health.as_json(), status=200 if health.ok else 503)


@require_safe
def favicon_view(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico on pages that link none (the admin's, JSON): the SVG."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
