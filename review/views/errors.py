"""The 403 page (handler403): the refusal's own words and a hint that fits it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from review.roles import RoleRequired

ROLE_HINT = "If you think you should, ask an admin for the role."
SAMPLE_HINT = "If you think you should, ask an admin for the sample to be assigned to you."
OTHER_HINT = "If you think you should, ask an admin."


def permission_denied_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's own 403 view, with a hint: a role to ask for, a sample to be given, or neither."""
    if isinstance(exception, RoleRequired):
        hint = ROLE_HINT
    elif "sample" in str(exception).lower():  # policy's refusals of one sample name it
        hint = SAMPLE_HINT
    else:
        hint = OTHER_HINT
    context = {"exception": str(exception), "hint": hint}
    return render(request, "403.html", context, status=403)
