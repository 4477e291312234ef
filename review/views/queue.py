"""Placeholder until the owning change lands."""

from django.http import HttpRequest, HttpResponse


def queue_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError


def next_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError
