"""The API's AutoSchema: every operation also documents the errors it can answer, with their
bodies, so a generated client (and the schemathesis test) knows every status and its shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

DETAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# DRF's validation errors: {"field": ["message", ...]} (a parse error: {"detail": "..."}), or
# a bare list of messages when a service refuses the input as a whole.
INVALID_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "object", "additionalProperties": True},
        {"type": "array", "items": {"type": "string"}},
    ]
}
ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("Invalid input: the fields at fault and why.", INVALID_SCHEMA),
    "401": ("No or an unknown token (WWW-Authenticate: Token).", DETAIL_SCHEMA),
    "403": ("Your roles (review/policy.py) do not allow this.", DETAIL_SCHEMA),
    "404": ("No such object, or none you may see.", DETAIL_SCHEMA),
}


def error_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class ErrorsAutoSchema(AutoSchema):
    """AutoSchema adding 400, 401, 403 and 404 (unless the view declares its own) to every
    operation of a view that needs sign-in. Any parameter may be refused with a 400 (NUL
    characters, review.middleware), so every operation declares it."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        signed_out = self.get_auth() == []
        for code, (description, schema) in ERRORS.items():
            if code in ("401", "403") and signed_out:
                continue
            responses.setdefault(code, error_response(description, schema))
        return responses
