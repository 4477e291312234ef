"""Views of the project itself (not of the review app): /healthz."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from annotator.selectors.health import system_health


@never_cache
@require_GET
def healthz_view(request: HttpRequest) -> JsonResponse:
    """200 when the database, broker, workers and queues are fine, else 503 naming what fails.
    No sign-in: compose healthchecks and monitors call it; it holds no secret."""
    health = system_health()
    return JsonResponse(health.as_json(), status=200 if health.ok else 503)
