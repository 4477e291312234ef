"""Emotion taxonomies: the built-in Mikels 8, EmoNet-Face's 40 (read from its guide.json) and
custom ones defined in the admin or loaded from a file of labels.

A taxonomy is labels in display order, optional synonyms per label and optional groups of labels
(EmoNet-Face's `options.labels` and `options.buttons`). Imports match a value to a label
case-insensitively, then to a synonym that belongs to exactly one label.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.db import transaction
from django.db.models import QuerySet

from annotator.importers.issues import ImportIssue
from annotator.models import Dataset, Proposal, Sample, Taxonomy
from annotator.services.importing import ImportFailed
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS

EMONET_FACE_40 = "emonet-face-40"
LABEL_MAX = int(Proposal._meta.get_field("emotion").max_length or 64)
NAME_MAX = int(Taxonomy._meta.get_field("name").max_length or 64)


# Given the samples of a taxonomy's datasets, querysets of the labels some other app stores for
# them (values_list(..., flat=True)). review registers people's answers from its AppConfig.ready:
# annotator never imports review (review depends on annotator).
class LabelSource(Protocol):
    def __call__(self, *, samples: QuerySet[Sample]) -> Iterable[QuerySet[Any]]: ...


_label_sources: list[LabelSource] = []


def register_label_source(source: LabelSource) -> None:
    """Count the labels `source` finds as in use (idempotent: ready() may run twice)."""
    if source not in _label_sources:
        _label_sources.append(source)


@dataclass(frozen=True)
class TaxonomySpec:
    labels: list[str]
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)


def spec_problems(spec: TaxonomySpec) -> list[str]:
    """Everything wrong with a taxonomy, as sentences; empty when it can be saved."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    if not spec.labels:
        problems.append("a taxonomy needs at least one label")
    for label in spec.labels:
        if not label.strip() or label != label.strip():
            problems.append(f"label {label!r} is empty or has surrounding spaces")
        elif len(label) > LABEL_MAX:
            problems.append(f"label {label!r} is longer than {LABEL_MAX} characters")
        key = label.casefold()
        if key in seen:
            problems.append(f"label {label!r} repeats {seen[key]!r} (labels ignore case)")
        seen.setdefault(key, label)
    for what, mapping in (("synonyms", spec.synonyms), ("groups", spec.groups)):
        problems.extend(_mapping_problems(what, mapping, spec.labels))
    return problems


def _mapping_problems(what: str, mapping: Mapping[str, list[str]], labels: list[str]) -> list[str]:
    known = set(labels)
    problems = []
    for key, values in mapping.items():
        if not key.strip():
            problems.append(f"{what}: an entry has an empty name")
        if what == "synonyms" and key not in known:
            problems.append(f"synonyms: {key!r} is not one of the labels")
        if what == "groups":
            unknown = [v for v in values if v not in known]
            if unknown:
                problems.append(f"groups: {key!r} names unknown labels {unknown}")
    return problems


def spec_from_guide(data: object, *, shown: str) -> TaxonomySpec:
    """EmoNet-Face's guide.json: options.labels -> labels + synonyms, options.buttons -> groups."""
    options = data.get("options") if isinstance(data, dict) else None
    labels = options.get("labels") if isinstance(options, dict) else None
    if not isinstance(labels, dict) or not labels:
        message = 'expected {"options": {"labels": {label: [synonyms]}, "buttons": {...}}}'
        raise ImportFailed([ImportIssue(shown, 0, "options.labels", message)])
    issues = [
        ImportIssue(shown, 0, f"options.labels.{name}", "must be a list of strings")
        for name, synonyms in labels.items()
        if not _is_string_list(synonyms)
    ]
    buttons = options.get("buttons", {}) if isinstance(options, dict) else {}
    if not isinstance(buttons, dict):
        issues.append(ImportIssue(shown, 0, "options.buttons", "must be an object"))
        buttons = {}
    issues += [
        ImportIssue(shown, 0, f"options.buttons.{name}", "must be a list of strings")
        for name, members in buttons.items()
        if not _is_string_list(members)
    ]
    if issues:
        raise ImportFailed(issues)
    return TaxonomySpec(
        labels=list(labels),
        synonyms={label: _unique(values) for label, values in labels.items() if values},
        groups={name: list(members) for name, members in buttons.items()},
    )


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _unique(values: Iterable[str]) -> list[str]:
    """Strings in first-seen order without repeats (guide.json lists 'serenity' twice)."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def read_taxonomy_file(*, path: Path) -> TaxonomySpec:
    """A guide.json (.json) or a text file of labels, one per line (blank and # lines skipped)."""
    shown = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed([ImportIssue(shown, 0, "file", f"cannot be read: {exc}")]) from exc
    if path.suffix.lower() != ".json":
        return TaxonomySpec(labels=labels_from_lines(text))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        issue = ImportIssue(
            shown, exc.lineno, "json", f"invalid JSON: {exc.msg} (column {exc.colno})"
        )
        raise ImportFailed([issue]) from exc
    return spec_from_guide(data, shown=shown)


def labels_from_lines(text: str) -> list[str]:
    """One label per line; blank lines and lines starting with # are skipped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def mapping_from_lines(text: str) -> dict[str, list[str]]:
    """`Name: a, b, c` per line (the admin's synonyms and groups editors); ValueError if bad."""
    mapping: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, rest = line.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"line {number}: expected 'Name: value, value', got {line.strip()!r}")
        mapping[name.strip()] = _unique(rest.split(","))
    return mapping


def mapping_to_lines(mapping: Mapping[str, list[str]]) -> str:
    return "\n".join(f"{name}: {', '.join(values)}" for name, values in mapping.items())


def labels_in_use(*, taxonomy: Taxonomy) -> set[str]:
    """Labels of `taxonomy` that its datasets' samples, proposals or the registered label
    sources (people's answers, from review) use."""
    datasets = Dataset.objects.filter(taxonomy=taxonomy)
    samples = Sample.objects.filter(dataset__in=datasets)
    used: set[str] = set()
    sources = [
        Proposal.objects.filter(sample__in=samples).values_list("emotion", flat=True),
        samples.values_list("gold_emotion", flat=True),
        samples.values_list("suggested_emotion", flat=True),
    ]
    for source in _label_sources:
        sources.extend(source(samples=samples))
    for values in sources:
        used.update(values.order_by().distinct())
    return used & set(taxonomy.labels)


def save_taxonomy(*, name: str, spec: TaxonomySpec, description: str | None = None) -> Taxonomy:
    """Create or replace the taxonomy `name`; ValueError listing every problem.

    Replacing may reorder, add and rename-by-adding labels, but never drops a label in use.
    """
    problems = spec_problems(spec)
    if not name or len(name) > NAME_MAX:
        problems.append(f"name {name!r} must be 1-{NAME_MAX} characters")
    if problems:
        raise ValueError("; ".join(problems))
    with transaction.atomic():
        taxonomy = Taxonomy.objects.select_for_update().filter(name=name).first()
        if taxonomy is None:
            taxonomy = Taxonomy(name=name)
        else:
            dropped = sorted(labels_in_use(taxonomy=taxonomy) - set(spec.labels))
            if dropped:
                raise ValueError(f"labels in use cannot be removed: {', '.join(dropped)}")
        taxonomy.labels = list(spec.labels)
        taxonomy.synonyms = dict(spec.synonyms)
        taxonomy.groups = dict(spec.groups)
        if description is not None:
            taxonomy.description = description
        taxonomy.save()
    return taxonomy


def ensure_mikels8() -> Taxonomy:
    """The default taxonomy (a migration seeds it; this restores it if someone removed it)."""
    taxonomy, _ = Taxonomy.objects.get_or_create(
        name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)}
    )
    return taxonomy


@dataclass(frozen=True)
class LabelMatch:
    label: str | None  # the taxonomy's spelling; None when the value matched nothing
    via_synonym: bool = False
    problem: str = ""


class LabelResolver:
    """Maps a value to a taxonomy label: the label itself (any case), else a synonym that
    belongs to exactly one label ('Hopelessness' -> 'Helplessness' in EmoNet-Face)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy.name
        self.labels: list[str] = list(taxonomy.labels)
        self._exact = {label.casefold(): label for label in self.labels}
        owners: dict[str, set[str]] = {}
        for label, synonyms in (taxonomy.synonyms or {}).items():
            for synonym in synonyms:
                owners.setdefault(str(synonym).casefold(), set()).add(label)
        self._synonyms = owners

    def resolve(self, value: str) -> LabelMatch:
        key = value.strip().casefold()
        if key in self._exact:
            return LabelMatch(self._exact[key])
        owners = self._synonyms.get(key, set())
        if len(owners) == 1:
            return LabelMatch(next(iter(owners)), via_synonym=True)
        if owners:
            return LabelMatch(
                None, problem=f"{value!r} is a synonym of {sorted(owners)}: ambiguous"
            )
        shown = ", ".join(self.labels[:10]) + (", ..." if len(self.labels) > 10 else "")
        return LabelMatch(None, problem=f"{value!r} is not in taxonomy {self.taxonomy} ({shown})")
