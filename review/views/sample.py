"""Placeholder until the owning change lands."""

from django.http import HttpRequest, HttpResponse


def sample_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError


def image_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError


def adjudicate_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError
