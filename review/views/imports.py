"""Placeholder until the owning change lands."""

from django.http import HttpRequest, HttpResponse


def import_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise NotImplementedError
