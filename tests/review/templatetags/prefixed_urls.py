"""A URLconf that mounts the review app elsewhere (test_page_urls: a changed URLconf)."""

from django.urls import include, path

urlpatterns = [path("elsewhere/review/", include("review.urls"))]
