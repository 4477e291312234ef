"""/api/: the team-review API, its OpenAPI schema and the docs page (assets from static/).

The schema and the docs need a signed-in person (session or token) unless API_DOCS_PUBLIC.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission

from review.api import datasets, views
from review.api.token import ThrottledObtainAuthToken

SWAGGER_UI = "vendor/swagger-ui"


class DocsPermission(BasePermission):
    """Signed in, unless settings.API_DOCS_PUBLIC opens the schema and docs to anyone."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(settings.API_DOCS_PUBLIC or request.user.is_authenticated)


DOCS_ACCESS: dict[str, Any] = {
    # Token first: an anonymous request is answered 401 with WWW-Authenticate: Token.
    "authentication_classes": [TokenAuthentication, SessionAuthentication],
    "permission_classes": [DocsPermission],
}


class LocalSwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI from static/vendor/swagger-ui, its init script from this view (no inline JS);
    a signed-out browser is sent to the login page and back."""

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return static(f"{SWAGGER_UI}/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static(f"{SWAGGER_UI}/favicon-32x32.png")

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, NotAuthenticated):
            response: HttpResponseBase = redirect_to_login(self.request.get_full_path())
            return response
        return super().handle_exception(exc)


@csrf_exempt  # it changes nothing; a POST gets the same JSON 404, not the CSRF page
def not_found_view(request: HttpRequest) -> JsonResponse:
    """Any other /api/.../ URL: a 404 in JSON, as the API's own (Django's is an HTML page)."""
    return JsonResponse({"detail": "Not found: no such API URL."}, status=404)


app_name = "api"

urlpatterns = [
    path("token/", ThrottledObtainAuthToken.as_view(), name="token"),
    path("queue/", views.QueueView.as_view(), name="queue"),
    path("next/", views.NextView.as_view(), name="next"),
    path("datasets/", datasets.DatasetListView.as_view(), name="datasets"),
    path("datasets/<str:ref>/", datasets.DatasetView.as_view(), name="dataset"),
    path(
        "datasets/<str:ref>/samples/", datasets.DatasetSamplesView.as_view(), name="dataset_samples"
    ),
    path("samples/<int:pk>/", views.SampleView.as_view(), name="sample"),
    path("samples/<int:pk>/image/", datasets.SampleImageView.as_view(), name="sample_image"),
    path("samples/<int:pk>/answer/", views.AnswerView.as_view(), name="answer"),
    path("samples/<int:pk>/votes/", views.VotesView.as_view(), name="votes"),
    path("samples/<int:pk>/skip/", views.SkipView.as_view(), name="skip"),
    path("samples/<int:pk>/adjudication/", views.AdjudicationView.as_view(), name="adjudication"),
    path("samples/<int:pk>/adjudication/undo/", views.UndoView.as_view(), name="undo"),
    path("samples/<int:pk>/history/", views.HistoryView.as_view(), name="history"),
    path("audit/", include("review.api.audit")),
    path("exports/", include("review.api.exports")),
    path("schema/", SpectacularAPIView.as_view(**DOCS_ACCESS), name="schema"),
    path(
        "docs/",
        LocalSwaggerView.as_view(url_name="api:schema", **DOCS_ACCESS),
        name="docs",
    ),
    # Last: only URLs ending in "/" (without it, APPEND_SLASH still redirects to a real one).
    re_path(r"^(?:[\s\S]*/)?$", not_found_view, name="not_found"),
]
