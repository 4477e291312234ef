"""Sign-in and sign-out (global names "login" and "logout", settings.LOGIN_URL)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from review.views.sign_in import ThrottledLoginView

urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
