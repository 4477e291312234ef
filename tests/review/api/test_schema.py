"""What the API's schema declares, read as a generated client reads it: the queue is a page,
the fields that can be null say so, every operation names its errors and their bodies.
(test_schemathesis.py checks real responses against the same schema.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The schema /api/schema/ serves (the same generator), made once: ~3 s each time."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(generated, default=str))


def _component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _json(response: dict[str, Any]) -> dict[str, Any]:
    return response["content"]["application/json"]["schema"]


def test_the_queue_is_a_page_not_a_bare_array(schema):
    body = _json(schema["paths"]["/api/queue/"]["get"]["responses"]["200"])
    page = _component(schema, body["$ref"])
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["next"]["nullable"] is True
    assert page["properties"]["results"]["type"] == "array"
    samples = _json(schema["paths"]["/api/datasets/{ref}/samples/"]["get"]["responses"]["200"])
    assert set(_component(schema, samples["$ref"])["properties"]) == {"next", "previous", "results"}


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("SampleDetail", "final_label"),
        ("SampleDetail", "critic"),
        ("SampleDetail", "own_answer"),
        ("AdjudicationState", "current"),
        ("Conflict", "theirs"),
        ("Region", "box"),
        ("Region", "mask"),
        ("ExportJob", "started_at"),
    ],
)
def test_fields_that_can_be_null_are_declared_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field]["nullable"] is True


def test_every_signed_in_operation_declares_its_errors_with_bodies(schema):
    missing = []
    for path, item in schema["paths"].items():
        if path in ("/api/token/", "/api/schema/"):
            continue
        for method in METHODS:
            if method not in item:
                continue
            responses = item[method]["responses"]
            for code in ("400", "401", "403", "404"):
                if "application/json" not in responses.get(code, {}).get("content", {}):
                    missing.append(f"{method.upper()} {path} {code}")
    assert missing == []
    cancel = schema["paths"]["/api/exports/{id}/cancel/"]["post"]["responses"]
    assert "409" in cancel and "202" in schema["paths"]["/api/exports/"]["post"]["responses"]
