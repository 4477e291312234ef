"""Rows a request reads more than once, read once and kept until the response is sent.

Save-and-next reads the sample's dataset and taxonomy three times (the checks before the
answer, the locked row, the next sample handed out): six statements where two do. Only rows
that stay put while a request runs belong here (a dataset's settings, its taxonomy); outside
a request (tasks, commands, tests calling selectors) nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse

T = TypeVar("T")
_ROWS: ContextVar[dict[Hashable, Any] | None] = ContextVar("request_rows", default=None)


class RequestMemoMiddleware:
    """Opens the request's memo and drops it with the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _ROWS.set({})
        try:
            return self.get_response(request)
        finally:
            _ROWS.reset(token)


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """`read()` the first time this request asks for `key`, the same value after that."""
    rows = _ROWS.get()
    if rows is None:
        return read()
    if key not in rows:
        rows[key] = read()
    return rows[key]  # type: ignore[no-any-return]
