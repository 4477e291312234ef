"""One JSON line -> one ParsedRecord: the three accepted shapes, old field names, B-A-S split.

Pure: no database, no files. Image checks happen in annotator.importers.images.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from annotator.importers.fields import (
    FieldBox,
    is_blank,
    read_boxes,
    read_confidence,
    read_des,
    read_label,
    read_relative_path,
    read_required_text,
    read_text,
    split_bas,
)
from annotator.importers.issues import LineReport, json_type
from annotator.importers.jsonl import CAUTIOUS, LineHints
from annotator.importers.masks import ROLES, ParsedMask, read_masks
from annotator.importers.near_keys import missing
from annotator.importers.storable import json_problems
from annotator.models import CriticVerdict, Proposal, Sample


def max_length(model: type[models.Model], name: str) -> int:
    return int(getattr(model._meta.get_field(name), "max_length", None) or 0)


# Model column sizes: a longer value would fail at write time (PostgreSQL) or be kept silently.
ID_MAX = max_length(Sample, "external_id")
PATH_MAX = max_length(Sample, "image_path")
SOURCE_MAX = max_length(Sample, "source")
MODEL_MAX = max_length(Proposal, "model_name")
PHRASE_MAX = max_length(Proposal, "background")
# Free text without a column size (description, critic reasoning and instructions): a bound
# keeps one sample's page readable; MAX_IMPORT_TEXT_CHARS overrides it (importing passes it).
TEXT_MAX = 20_000

# Current name first, then the older names EmoVerse's build scripts use; the first present wins.
NAMES = {
    "description": ("description", "analysis"),
    "confidence": ("confidence", "intensity"),
    "background": ("background",),
    "attribute": ("attribute", "adjective"),
    "subject": ("subject", "noun"),
}
BAS_KEY = "B-A-S"
# Any of these on a record without `proposals` makes it a plain EmoVerse record (one proposal).
ANNOTATION_KEYS = frozenset(
    {name for names in NAMES.values() for name in names} | {"emotion", BAS_KEY, "bbox"}
)
VERDICTS = [v.value for v in CriticVerdict.Verdict]
MASK_KEYS = frozenset({"mask_path", "masks"})
# Stored in their own columns and rows, not again in the proposal's raw record.
NOT_RAW = frozenset({"DES", "masks"})


@dataclass(frozen=True)
class ParseContext:
    labels: list[str]
    taxonomy: str  # the taxonomy's name, for error messages
    default_model: str  # the model a plain EmoVerse record's proposal is filed under
    text_max: int = TEXT_MAX  # characters of description, reasoning, instructions


@dataclass(frozen=True)
class ParsedProposal:
    model_name: str
    description: str
    emotion: str
    confidence: float | None
    background: str
    attribute: str
    subject: str
    boxes: tuple[FieldBox, ...]
    masks: tuple[ParsedMask, ...]
    raw: dict[str, object]


@dataclass(frozen=True)
class ParsedCritic:
    model_name: str
    verdict: str
    emotion: str
    reasoning: str
    instructions: str


@dataclass(frozen=True)
class ParsedRecord:
    external_id: str
    image_path: str  # "" when missing or unsafe (the problem is already reported)
    source: str
    des: bytes | None
    proposals: tuple[ParsedProposal, ...]
    critic: ParsedCritic | None

    @property
    def boxes(self) -> list[FieldBox]:
        return [box for proposal in self.proposals for box in proposal.boxes]


def external_id_of(obj: dict[str, object]) -> str:
    """The record's id as text ("" when missing or not a string/integer)."""
    value = obj.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()


def parse_record(
    obj: object, *, ctx: ParseContext, report: LineReport, hints: LineHints = CAUTIOUS
) -> ParsedRecord | None:
    """Every problem goes to `report`; None only when the line is not a JSON object. `hints`
    (from the line's bytes) only ever skip checks that cannot find anything."""
    if not isinstance(obj, dict):
        report.error("line", f"must be a JSON object, not {json_type(obj)}")
        return None
    if not hints.storable:
        for field, problem in json_problems(obj):
            report.error(field, problem)
    external_id = _read_id(obj, report)
    if is_blank(obj.get("image_path")):
        report.error("image_path", missing(obj, "image_path"))
        image_path = ""
    else:
        image_path = read_image_path(obj.get("image_path"), report=report)
    source = read_text(obj.get("source"), field="source", report=report, max_length=SOURCE_MAX)
    des = read_des(obj.get("DES"), field="DES", report=report, plain=hints.plain_numbers)
    if "proposals" in obj:
        proposals = _read_proposals(obj, ctx=ctx, report=report)
    elif ANNOTATION_KEYS & obj.keys():
        raw = {key: value for key, value in obj.items() if key not in NOT_RAW}
        proposals = [_read_annotation(obj, ctx.default_model, "", raw, ctx=ctx, report=report)]
    else:
        proposals = []  # only id and image_path: awaiting the pipeline
        for key in sorted(MASK_KEYS & obj.keys()):
            report.error(key, "needs an annotation (an emotion) to belong to")
    critic = _read_critic(obj.get("critic"), ctx=ctx, report=report)
    return ParsedRecord(external_id, image_path, source, des, tuple(proposals), critic)


def _read_id(obj: dict[str, object], report: LineReport) -> str:
    value = obj.get("id")
    if is_blank(value):
        report.error("id", missing(obj, "id"))
        return ""
    external_id = external_id_of(obj)
    if not external_id:
        report.error("id", f"must be a string or an integer, not {json_type(value)}")
    elif len(external_id) > ID_MAX:
        report.error("id", f"is longer than {ID_MAX} characters")
        return ""
    return external_id


def read_image_path(value: object, *, report: LineReport) -> str:
    """The path as given, normalised; refuses absolute paths and `..` before touching the disk."""
    return read_relative_path(value, field="image_path", report=report, max_length=PATH_MAX)


def _read_proposals(
    obj: dict[str, object], *, ctx: ParseContext, report: LineReport
) -> list[ParsedProposal]:
    value = obj["proposals"]
    mixed = sorted(ANNOTATION_KEYS & obj.keys())
    if mixed:
        report.error("proposals", f"cannot be combined with top-level {', '.join(mixed)}")
    if not isinstance(value, list):
        report.error("proposals", f"must be an array of objects, not {json_type(value)}")
        return []
    proposals: list[ParsedProposal] = []
    for index, item in enumerate(value):
        prefix = f"proposals[{index}]"
        if not isinstance(item, dict):
            report.error(prefix, f"must be an object, not {json_type(item)}")
            continue
        model = read_required_text(
            item.get("model"), field=f"{prefix}.model", report=report, max_length=MODEL_MAX
        )
        if not model:
            continue
        if any(p.model_name == model for p in proposals):
            report.error(f"{prefix}.model", f"{model!r} appears twice in this sample's proposals")
            continue
        raw = {key: value for key, value in item.items() if key not in NOT_RAW}
        proposals.append(_read_annotation(item, model, f"{prefix}.", raw, ctx=ctx, report=report))
    return proposals


def _read_annotation(
    obj: dict[str, object],
    model_name: str,
    prefix: str,
    raw: dict[str, object],
    *,
    ctx: ParseContext,
    report: LineReport,
) -> ParsedProposal:
    """One model's annotation; the current field names win over the old ones."""
    keys = {}
    for name, names in NAMES.items():
        key = names[0]
        if len(names) > 1 and obj.get(key) in (None, ""):
            key = next((k for k in names[1:] if obj.get(k) not in (None, "")), key)
        keys[name] = key
    description_key, confidence_key = keys["description"], keys["confidence"]
    emotion = read_label(
        obj.get("emotion"),
        field=prefix + "emotion",
        report=report,
        labels=ctx.labels,
        taxonomy=ctx.taxonomy,
        required=True,
    )
    triplet = _read_triplet(obj, keys, prefix, report)
    return ParsedProposal(
        model_name=model_name,
        description=read_text(
            obj.get(description_key),
            field=prefix + description_key,
            report=report,
            max_length=ctx.text_max,
        ),
        emotion=emotion,
        confidence=read_confidence(
            obj.get(confidence_key), field=prefix + confidence_key, report=report
        ),
        background=triplet[0],
        attribute=triplet[1],
        subject=triplet[2],
        boxes=tuple(read_boxes(obj.get("bbox"), field=prefix + "bbox", report=report)),
        masks=_read_masks(obj, prefix, triplet, report),
        raw=raw,
    )


def _read_masks(
    obj: dict[str, object], prefix: str, triplet: list[str], report: LineReport
) -> tuple[ParsedMask, ...]:
    if MASK_KEYS.isdisjoint(obj):  # most annotations: nothing to read, nothing to build
        return ()
    phrases = dict(zip(ROLES, triplet, strict=True))
    return read_masks(obj, prefix=prefix, phrases=phrases, report=report)


def _read_triplet(
    obj: dict[str, object], keys: dict[str, str], prefix: str, report: LineReport
) -> list[str]:
    """Separate fields win; the B-A-S string (order unreliable) only fills the absent ones."""
    names = ("background", "attribute", "subject")
    triplet = [
        read_text(obj.get(keys[n]), field=prefix + keys[n], report=report, max_length=PHRASE_MAX)
        for n in names
    ]
    if all(triplet):
        return triplet
    split = split_bas(obj.get(BAS_KEY), field=prefix + BAS_KEY, report=report)
    if split is None:
        return triplet
    if any(len(part) > PHRASE_MAX for part in split):
        report.error(prefix + BAS_KEY, f"has a part longer than {PHRASE_MAX} characters")
        return triplet
    return [mine or theirs for mine, theirs in zip(triplet, split, strict=True)]


def _read_critic(value: object, *, ctx: ParseContext, report: LineReport) -> ParsedCritic | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        report.error("critic", f"must be an object, not {json_type(value)}")
        return None
    verdict = read_required_text(
        value.get("verdict"), field="critic.verdict", report=report
    ).casefold()
    if verdict and verdict not in VERDICTS:
        report.error(
            "critic.verdict",
            f"{value['verdict']!r} is not a critic verdict ({', '.join(VERDICTS)})",
        )
    model = read_text(value.get("model"), field="critic.model", report=report, max_length=MODEL_MAX)
    return ParsedCritic(
        model_name=model or "critic",
        verdict=verdict,
        emotion=read_label(
            value.get("emotion"),
            field="critic.emotion",
            report=report,
            labels=ctx.labels,
            taxonomy=ctx.taxonomy,
        ),
        reasoning=read_text(
            value.get("reasoning"),
            field="critic.reasoning",
            report=report,
            max_length=ctx.text_max,
        ),
        instructions=read_text(
            value.get("instructions"),
            field="critic.instructions",
            report=report,
            max_length=ctx.text_max,
        ),
    )
