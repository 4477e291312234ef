"""JSON schemas sent as structured output, and strict validation of what models answer.

Validation never trusts the schema was honoured (many endpoints ignore it): each parser returns
the cleaned value and a list of problems phrased for the model, which the repair prompt sends
back verbatim.
"""

from __future__ import annotations

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


def _emotion(value: Any, labels: list[str], problems: Problems, *, allow_empty: bool) -> str:
    if allow_empty and (value is None or value == ""):
        return ""
    label = normalise_label(value, labels) if isinstance(value, str) else None
    if label is None:
        problems.append(f'"emotion" must be one of: {", ".join(labels)} (got {value!r})')
        return ""
    return label


def _confidence(value: Any, problems: Problems) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        problems.append(f'"confidence" must be a number from 0 to 10 (got {value!r})')
        return 0.0
    return float(value)


def _four_numbers(values: list[Any]) -> bool:
    return len(values) == 4 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _boxes(value: Any, size: tuple[int, int], problems: Problems) -> list[dict[str, Any]] | None:
    """Boxes come as [x1, y1, x2, y2] fractions of the image; returned in pixels of `size`."""
    if value is None:
        return None
    if not isinstance(value, list):
        problems.append('"boxes" must be a list or null')
        return None
    width, height = size
    result = []
    for index, item in enumerate(value):
        box = item.get("box") if isinstance(item, dict) else None
        phrase = item.get("phrase") if isinstance(item, dict) else None
        if not isinstance(box, list) or not _four_numbers(box):
            box = None
        if not isinstance(phrase, str) or not phrase.strip() or box is None:
            problems.append(f'"boxes"[{index}] must be {{"phrase": text, "box": [x1, y1, x2, y2]}}')
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        if not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
            problems.append(
                f'"boxes"[{index}].box must be fractions of the image size with 0 <= x1 < x2 <= 1 '
                "and 0 <= y1 < y2 <= 1"
            )
            continue
        pixels = [x1 * width, y1 * height, x2 * width, y2 * height]
        result.append({"phrase": phrase.strip(), "box": [round(v, 2) for v in pixels]})
    return result


def parse_annotation(
    text: str | None, *, labels: list[str], image_size: tuple[int, int]
) -> tuple[dict[str, Any] | None, Problems]:
    data, problems = load_json_object(text)
    if data is None:
        return None, problems
    value = {
        "description": _string(data, "description", problems, DESCRIPTION_MAX),
        "emotion": _emotion(data.get("emotion"), labels, problems, allow_empty=False),
        "confidence": _confidence(data.get("confidence"), problems),
        "background": _string(data, "background", problems, TRIPLET_MAX),
        "attribute": _string(data, "attribute", problems, TRIPLET_MAX),
        "subject": _string(data, "subject", problems, TRIPLET_MAX),
        "boxes": _boxes(data.get("boxes"), image_size, problems),
    }
    return (None, problems) if problems else (value, [])


def _checks(value: Any, problems: Problems) -> dict[str, bool]:
    if not isinstance(value, dict):
        problems.append(f'"checks" must be an object with true/false for: {", ".join(CHECKS)}')
        return {}
    result = {}
    for name in CHECKS:
        if not isinstance(value.get(name), bool):
            problems.append(f'"checks"."{name}" must be true or false')
        else:
            result[name] = value[name]
    return result


def parse_critic(text: str | None, *, labels: list[str]) -> tuple[dict[str, Any] | None, Problems]:
    data, problems = load_json_object(text)
    if data is None:
        return None, problems
    reasoning = _string(data, "reasoning", problems, DESCRIPTION_MAX)
    checks = _checks(data.get("checks"), problems)
    verdict = data.get("verdict")
    verdict = verdict.strip().lower() if isinstance(verdict, str) else verdict
    if verdict not in VERDICTS:
        problems.append(f'"verdict" must be one of: {", ".join(VERDICTS)} (got {verdict!r})')
    # A drop needs no emotion; preserve and revise name the emotion they stand for.
    emotion = _emotion(data.get("emotion"), labels, problems, allow_empty=verdict != "preserve")
    instructions = data.get("instructions")
    instructions = instructions.strip() if isinstance(instructions, str) else instructions
    if not isinstance(instructions, str):
        problems.append('"instructions" must be a string')
    elif verdict == "revise" and not instructions:
        problems.append('"instructions" must say what to re-annotate when the verdict is revise')
    value = {
        "reasoning": reasoning,
        "checks": checks,
        "verdict": verdict,
        "emotion": emotion,
        "instructions": instructions,
    }
    return (None, problems) if problems else (value, [])
