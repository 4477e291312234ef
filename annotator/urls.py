from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from annotator.views import favicon_view, healthz_view

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="review:queue", permanent=False)),
    # Sign-in is throttled (review/services/sign_in.py); the admin signs in through it too.
    path("accounts/", include("review.auth_urls")),
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("healthz", healthz_view, name="healthz"),
    path("favicon.ico", favicon_view, name="favicon"),  # for operators and compose healthchecks
    path("review/", include("review.urls")),
    path("api/", include("review.api.urls")),
]
# The 403 page's hint fits the refusal (a role to ask for, a sample to be given).
handler403 = "review.views.errors.permission_denied_view"
