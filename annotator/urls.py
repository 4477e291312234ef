from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from annotator.views import healthz_view

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="review:queue", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", healthz_view, name="healthz"),  # for operators and compose healthchecks
    path("review/", include("review.urls")),
    path("api/", include("review.api.urls")),
]
