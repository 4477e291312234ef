"""The API's JSON parser, with a depth limit: a body nested 100,000 deep is a 400, not a 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from review.validators import JSON_MAX_DEPTH, loads_bounded


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(JSONParser):
    """JSONParser refusing nesting over JSON_MAX_DEPTH (json's C parser raises RecursionError
    near 1,000 levels). DRF hands it the body read through request.body, so Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE bounds the size already (400 over it)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        constant = _refuse_constant if api_settings.STRICT_JSON else None
        try:
            text = stream.read().decode(encoding)
            return loads_bounded(text, max_depth=JSON_MAX_DEPTH, parse_constant=constant)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
            raise ParseError(f"JSON parse error - {exc}") from exc
