"""Placeholder until the owning change lands."""

from django.http import HttpRequest, HttpResponse


def export_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError


def download_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError
