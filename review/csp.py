"""Content-Security-Policy on every response, from settings.CONTENT_SECURITY_POLICY.

The pages run no inline script and no eval (htmx's allowEval is off in base.html); scripts,
styles and images come from this site. The few layout values that depend on a sample (its
image's size, where a box label sits) go in one <style> element that carries this response's
nonce (`request.csp_nonce`), the source the policy names as NONCE.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"
# In a directive's sources: this response's nonce ('nonce-…').
NONCE = "nonce"


def policy_header(policy: Mapping[str, Sequence[str]], *, nonce: str) -> str:
    """`policy` as a header value: "default-src 'self'; img-src 'self' data:" and so on."""
    parts = []
    for directive, sources in policy.items():
        values = [f"'nonce-{nonce}'" if s == NONCE else s for s in sources]
        parts.append(" ".join([directive, *values]))
    return "; ".join(parts)


class ContentSecurityPolicyMiddleware:
    """Sets the policy on every response that has none of its own (a view may set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        policy: Mapping[str, Sequence[str]] = getattr(settings, "CONTENT_SECURITY_POLICY", {})
        header = REPORT_ONLY_HEADER if settings.CONTENT_SECURITY_POLICY_REPORT_ONLY else HEADER
        if policy and header not in response:
            response[header] = policy_header(policy, nonce=nonce)
        return response
