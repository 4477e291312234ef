"""JSON schemas sent as structured output, and tolerant, honest validation of what models answer.

Validation never trusts the schema was honoured (many endpoints ignore it). Only the fields a
decision needs are required (an annotation: `emotion`, `confidence`; a critic verdict: `verdict`,
`reasoning`, and `emotion` for preserve/revise): each parser returns the cleaned value and the
problems with those, phrased for the model, which the repair prompt sends back verbatim. An
optional field that is missing or invalid (a description, a triplet part, one of the critic's
`checks`, a box) costs no repair: it is stored as unknown ("" or None) and named in the value's
`unknown` list, so that people see "not given" rather than a guess.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from annotator.taxonomy import normalise_label

TRIPLET_MAX = 300  # Proposal.background/attribute/subject are CharField(max_length=300)
DESCRIPTION_MAX = 4000
CHECKS = ("emotion_consistent", "triplet_grounded", "box_matches_subject", "confidence_plausible")
VERDICTS = ("preserve", "revise", "drop")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)

Problems = list[str]


def annotation_schema(labels: list[str]) -> dict[str, Any]:
    """Strict-mode JSON schema: every property required, boxes nullable."""
    box = {
        "type": "object",
        "properties": {
            "phrase": {"type": "string"},
            "box": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["phrase", "box"],
        "additionalProperties": False,
    }
    properties = {
        "description": {"type": "string"},
        "emotion": {"type": "string", "enum": list(labels)},
        "confidence": {"type": "number"},
        "background": {"type": "string"},
        "attribute": {"type": "string"},
        "subject": {"type": "string"},
        "boxes": {"type": ["array", "null"], "items": box},
    }
    return _object(properties)


def critic_schema(labels: list[str]) -> dict[str, Any]:
    """`reasoning` comes first so that the model writes it before it decides."""
    checks = _object({name: {"type": "boolean"} for name in CHECKS})
    properties = {
        "reasoning": {"type": "string"},
        "checks": checks,
        "verdict": {"type": "string", "enum": list(VERDICTS)},
        "emotion": {"type": "string", "enum": [*labels, ""]},
        "instructions": {"type": "string"},
    }
    return _object(properties)


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def load_json_object(text: str | None) -> tuple[dict[str, Any] | None, Problems]:
    """The reply's JSON object; tolerates a ```json fence or prose around one object."""
    if text is None or not text.strip():
        return None, ["the reply was empty; answer with one JSON object"]
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        start = body.find("{")
        try:
            value, _ = json.JSONDecoder().raw_decode(body[start:]) if start >= 0 else (None, 0)
        except json.JSONDecodeError:
            return None, [f"the reply is not valid JSON ({exc.msg} at char {exc.pos})"]
    if not isinstance(value, dict):
        return None, ["the reply must be one JSON object, not " + type(value).__name__]
    return value, []


def _string(data: dict[str, Any], key: str, problems: Problems, max_len: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f'"{key}" must be a non-empty string')
        return ""
    if len(value.strip()) > max_len:
        problems.append(f'"{key}" must be at most {max_len} characters')
    return value.strip()


def _optional_string(data: dict[str, Any], key: str, unknown: list[str], max_len: int) -> str:
    """The text, or "" (unknown) when missing, empty, not a string or too long to store whole."""
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_len:
        unknown.append(key)
        return ""
    return value.strip()


def _emotion(value: Any, labels: list[str], problems: Problems, *, allow_empty: bool) -> str:
    if allow_empty and (value is None or value == ""):
        return ""
    label = normalise_label(value, labels) if isinstance(value, str) else None
    if label is None:
        problems.append(f'"emotion" must be one of: {", ".join(labels)} (got {value!r})')
        return ""
    return label


def _confidence(value: Any, problems: Problems) -> float:
    if isinstance(value, str):  # "7" is as clear as 7
        with contextlib.suppress(ValueError):
            value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        problems.append(f'"confidence" must be a number from 0 to 10 (got {value!r})')
        return 0.0
    return float(value)


def _four_numbers(values: list[Any]) -> bool:
    return len(values) == 4 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _boxes(value: Any, size: tuple[int, int], unknown: list[str]) -> list[dict[str, Any]] | None:
    """Boxes come as [x1, y1, x2, y2] fractions of the image; returned in pixels of `size`.
    Boxes are optional: a malformed one is left out and named in `unknown`."""
    if value is None:
        return None
    if not isinstance(value, list):
        unknown.append("boxes")
        return None
    width, height = size
    result = []
    for index, item in enumerate(value):
        box = item.get("box") if isinstance(item, dict) else None
        phrase = item.get("phrase") if isinstance(item, dict) else None
        if not isinstance(box, list) or not _four_numbers(box):
            box = None
        if not isinstance(phrase, str) or not phrase.strip() or box is None:
            unknown.append(f"boxes[{index}]")
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        if not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
            unknown.append(f"boxes[{index}]")
            continue
        pixels = [x1 * width, y1 * height, x2 * width, y2 * height]
        result.append({"phrase": phrase.strip(), "box": [round(v, 2) for v in pixels]})
    return result


def parse_annotation(
    text: str | None, *, labels: list[str], image_size: tuple[int, int]
) -> tuple[dict[str, Any] | None, Problems]:
    """Required: `emotion` and `confidence`; the description, triplet and boxes are optional."""
    data, problems = load_json_object(text)
    if data is None:
        return None, problems
    unknown: list[str] = []
    value = {
        "description": _optional_string(data, "description", unknown, DESCRIPTION_MAX),
        "emotion": _emotion(data.get("emotion"), labels, problems, allow_empty=False),
        "confidence": _confidence(data.get("confidence"), problems),
        "background": _optional_string(data, "background", unknown, TRIPLET_MAX),
        "attribute": _optional_string(data, "attribute", unknown, TRIPLET_MAX),
        "subject": _optional_string(data, "subject", unknown, TRIPLET_MAX),
        "boxes": _boxes(data.get("boxes"), image_size, unknown),
        "unknown": unknown,
    }
    return (None, problems) if problems else (value, [])


def _checks(value: Any, unknown: list[str]) -> dict[str, bool | None]:
    """All four checks, each true, false or None (not given)."""
    given = value if isinstance(value, dict) else {}
    result: dict[str, bool | None] = {}
    for name in CHECKS:
        answer = given.get(name)
        result[name] = answer if isinstance(answer, bool) else None
        if result[name] is None:
            unknown.append(f"checks.{name}")
    return result


def parse_critic(text: str | None, *, labels: list[str]) -> tuple[dict[str, Any] | None, Problems]:
    """Required: `verdict`, `reasoning`, and `emotion` for preserve and revise. The checks and
    the instructions are optional (a revise without instructions re-annotates without them)."""
    data, problems = load_json_object(text)
    if data is None:
        return None, problems
    unknown: list[str] = []
    reasoning = _string(data, "reasoning", problems, DESCRIPTION_MAX)
    checks = _checks(data.get("checks"), unknown)
    verdict = data.get("verdict")
    verdict = verdict.strip().lower() if isinstance(verdict, str) else verdict
    if verdict not in VERDICTS:
        problems.append(f'"verdict" must be one of: {", ".join(VERDICTS)} (got {verdict!r})')
    if verdict == "drop":  # a drop stands for no emotion: one it names anyway is kept if valid
        emotion = _emotion(data.get("emotion"), labels, [], allow_empty=True)
    else:
        emotion = _emotion(data.get("emotion"), labels, problems, allow_empty=False)
    instructions = data.get("instructions")
    if not isinstance(instructions, str) or not instructions.strip():
        instructions = ""
        if verdict == "revise":
            unknown.append("instructions")
    value = {
        "reasoning": reasoning,
        "checks": checks,
        "verdict": verdict,
        "emotion": emotion,
        "instructions": instructions.strip(),
        "unknown": unknown,
    }
    return (None, problems) if problems else (value, [])
