"""/api/: the team-review API, its OpenAPI schema and the docs page (assets from static/)."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.authtoken.views import obtain_auth_token

from review.api import views

SWAGGER_UI = "vendor/swagger-ui"


class LocalSwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI from static/vendor/swagger-ui, its init script from this view (no inline JS)."""

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return static(f"{SWAGGER_UI}/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static(f"{SWAGGER_UI}/favicon-32x32.png")


app_name = "api"

urlpatterns = [
    path("token/", obtain_auth_token, name="token"),
    path("queue/", views.QueueView.as_view(), name="queue"),
    path("next/", views.NextView.as_view(), name="next"),
    path("samples/<int:pk>/", views.SampleView.as_view(), name="sample"),
    path("samples/<int:pk>/answer/", views.AnswerView.as_view(), name="answer"),
    path("samples/<int:pk>/votes/", views.VotesView.as_view(), name="votes"),
    path("samples/<int:pk>/skip/", views.SkipView.as_view(), name="skip"),
    path("samples/<int:pk>/adjudication/", views.AdjudicationView.as_view(), name="adjudication"),
    path("samples/<int:pk>/adjudication/undo/", views.UndoView.as_view(), name="undo"),
    path("samples/<int:pk>/history/", views.HistoryView.as_view(), name="history"),
    path("audit/", include("review.api.audit")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", LocalSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
