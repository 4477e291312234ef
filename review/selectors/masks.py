"""Reads behind click-to-refine masks: each B-A-S element's mask state (who may edit them:
review.policy).

Each person refines their own masks: an element's history *for a person* is the MaskEdit rows
they authored (seq grows per sample and element, across people), so annotators under blind
review never see, or build on, each other's clicks. The *head* is the person's latest edit not
undone: the clicks their next click builds on. What the page shows is their latest edit not
undone that has a result (usually the head; an older one while the head computes). With no
such edit the element shows the machine's masks: imported ones, or SAM masks of imported boxes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, QuerySet

from annotator.models import Region, Sample
from review.models import Assignment, MaskEdit
from review.selectors.prepared import fetch

ROLES: tuple[str, ...] = tuple(Region.Role.values)
ROLE_LABELS = dict(Region.Role.choices)
INACTIVE_ASSIGNMENTS = (Assignment.Status.EXPIRED, Assignment.Status.SKIPPED)
UNFINISHED = (MaskEdit.Status.PENDING, MaskEdit.Status.RUNNING)


def element_edits(*, sample_id: int, role: str, author_id: int | None) -> Any:
    """One person's edits of one element (their history of it)."""
    return MaskEdit.objects.filter(sample_id=sample_id, role=role, author_id=author_id)


def head_edit(*, sample_id: int, role: str, author_id: int | None) -> MaskEdit | None:
    """The person's latest edit of the element that is not undone."""
    edits = element_edits(sample_id=sample_id, role=role, author_id=author_id)
    return edits.filter(undone=False).order_by("-seq").first()


def shown_edit(*, sample_id: int, role: str, author_id: int | None) -> MaskEdit | None:
    """The person's latest edit not undone with a result: their current mask of the element."""
    edits = element_edits(sample_id=sample_id, role=role, author_id=author_id)
    return edits.filter(undone=False, status=MaskEdit.Status.DONE).order_by("-seq").first()


def redo_target(
    *, sample_id: int, role: str, author_id: int | None, above_seq: int
) -> MaskEdit | None:
    """The edit a redo brings back: the person's first undone one after their head."""
    edits = element_edits(sample_id=sample_id, role=role, author_id=author_id)
    return edits.filter(undone=True, seq__gt=above_seq).order_by("seq").first()


def is_edit_stale(*, edit: MaskEdit) -> bool:
    """A result for `edit` is unwanted: it was undone, or its author's newer work exists.
    Reads the edit's own `undone` from the database too (one query)."""
    superseding = Q(pk=edit.pk, undone=True) | Q(seq__gt=edit.seq, undone=False)
    edits = element_edits(sample_id=edit.sample_id, role=edit.role, author_id=edit.author_id)
    return edits.filter(superseding).exists()


# A click waits this long for a worker to take it before the page says so (a free worker takes
# it within milliseconds; a busy one may be encoding another image for seconds).
QUEUED_AFTER_SECONDS = 1.0
# How a send that ran in-process and must retry (a transient database error) is recorded: the
# page keeps saying "computing", the broker is not at fault.
RETRYING_PREFIX = "not computed, will try again: "


def progress_word(*, status: str, preparing: bool, waited: float, send_error: str = "") -> str:
    """What an unfinished edit is doing, as the page says it: "unreachable" (the broker did not
    take it: saved, sent when the workers are back), "preparing" (the worker encodes the
    image), "queued" (no worker has taken it for a while) or "computing"."""
    if status == MaskEdit.Status.PENDING and send_error:
        return "computing" if send_error.startswith(RETRYING_PREFIX) else "unreachable"
    if preparing:
        return "preparing"
    if status == MaskEdit.Status.PENDING and waited > QUEUED_AFTER_SECONDS:
        return "queued"
    return "computing"


def edit_progress(*, edit_id: int) -> tuple[str, str] | None:
    """(status, progress_word) by primary key: what a poll asks, one query."""
    fields = ("status", "preparing", "created_at", "send_error")
    row = MaskEdit.objects.filter(pk=edit_id).values_list(*fields).first()
    if row is None:
        return None
    status, preparing, created_at, send_error = row
    waited = max(0.0, time.time() - created_at.timestamp())
    word = progress_word(status=status, preparing=preparing, waited=waited, send_error=send_error)
    return status, word


@dataclass(frozen=True)
class ShownMask:
    """One mask drawn on the image: its COCO RLE and who made it."""

    rle: dict[str, Any]
    segmenter: str
    origin: str
    score: float | None


@dataclass(frozen=True)
class Candidate:
    index: int
    rle: dict[str, Any]
    score: float
    chosen: bool


@dataclass(frozen=True)
class MaskState:
    """Everything the mask panel shows for one element of one sample."""

    sample_id: int
    role: str
    label: str
    width: int
    height: int
    version: int  # microseconds when read: a response read later never shows older state
    head: MaskEdit | None
    shown: MaskEdit | None
    candidates: list[Candidate] = field(default_factory=list)
    masks: list[ShownMask] = field(default_factory=list)
    can_redo: bool = False
    waiting_seconds: float = 0.0

    @property
    def waiting(self) -> bool:
        return self.head is not None and self.head.status in UNFINISHED

    @property
    def progress(self) -> str:
        """For a waiting head: "preparing", "queued" or "computing" (progress_word)."""
        if self.head is None:
            return ""
        return progress_word(
            status=self.head.status,
            preparing=self.head.preparing,
            waited=self.waiting_seconds,
            send_error=self.head.send_error,
        )

    @property
    def head_status(self) -> str:
        """The head's status, "" without one (the page reads it four times)."""
        return self.head.status if self.head is not None else ""

    @property
    def can_undo(self) -> bool:
        return self.head is not None

    @property
    def accepted(self) -> bool:
        return self.shown is not None and self.shown.accepted_at is not None

    @property
    def points(self) -> list[list[float]]:
        return list(self.head.points) if self.head is not None else []

    @property
    def box(self) -> list[float] | None:
        return self.head.box if self.head is not None else None

    @property
    def marks_json(self) -> str:
        """The head's clicks and box, for the page to draw: {"points": [[x, y, label]], "box"}."""
        return json.dumps({"points": self.points, "box": self.box}, separators=(",", ":"))

    @property
    def shown_mask(self) -> ShownMask | None:
        return self.masks[0] if self.masks else None


def _person_candidates(edit: MaskEdit) -> list[Candidate]:
    return [
        Candidate(index=i, rle=c["rle"], score=float(c["score"]), chosen=i == edit.chosen)
        for i, c in enumerate(edit.candidates)
    ]


def _machine_masks(regions: Sequence[Region], role: str) -> list[ShownMask]:
    return [
        ShownMask(
            rle=r.mask,
            segmenter=r.segmenter,
            origin=r.origin,
            score=r.score,
        )
        for r in regions
        if r.role == role and r.origin != Region.Origin.PERSON and r.mask
    ]


def _machine_regions(sample: Sample) -> list[Region]:
    """The sample's imported or model regions with a mask, by id: from `sample.regions` (the
    sample page prefetched them; otherwise one query)."""
    regions = [r for r in sample.regions.all() if r.mask and r.origin != Region.Origin.PERSON]
    return sorted(regions, key=lambda r: r.pk)


def _person_mask(shown: MaskEdit) -> ShownMask:
    chosen = shown.candidates[shown.chosen]
    return ShownMask(
        rle=chosen["rle"],
        segmenter=shown.segmenter,
        origin=Region.Origin.PERSON,
        score=float(chosen["score"]),
    )


@dataclass(frozen=True)
class _Chain:
    """Where one element of one person's history stands: ids of its head and shown edit."""

    head_id: int | None
    shown_id: int | None
    can_redo: bool


def _edit_rows(*, sample_id: int, author_id: int) -> QuerySet[Any]:
    edits = MaskEdit.objects.filter(sample_id=sample_id, author_id=author_id)
    return edits.order_by("-seq").values_list("role", "seq", "id", "undone", "status")


def _chains(*, sample_id: int, author_id: int | None) -> dict[str, _Chain]:
    """Each element's head, shown edit and redo for the person: one prepared statement over
    their edit history's small columns (no candidates), instead of two to four ORM queries
    per element."""
    if author_id is None:
        return {}
    values = {"sample_id": sample_id, "author_id": author_id}
    rows = fetch(key="mask_edit_rows", build=_edit_rows, values=values)
    chains: dict[str, _Chain] = {}
    for role in {row[0] for row in rows}:
        newest_first = [row[1:] for row in rows if row[0] == role]
        live = [(seq, pk, status) for seq, pk, undone, status in newest_first if not undone]
        head_seq, head_id = (live[0][0], live[0][1]) if live else (0, None)
        shown_id = next((pk for _, pk, status in live if status == MaskEdit.Status.DONE), None)
        can_redo = any(undone and seq > head_seq for seq, _, undone, _ in newest_first)
        chains[role] = _Chain(head_id=head_id, shown_id=shown_id, can_redo=can_redo)
    return chains


def _state(
    *,
    sample: Sample,
    role: str,
    chain: _Chain | None,
    edits: dict[int, MaskEdit],
    regions: Sequence[Region],
    version: int,
) -> MaskState:
    head = edits.get(chain.head_id) if chain and chain.head_id else None
    shown = edits.get(chain.shown_id) if chain and chain.shown_id else None
    candidates: list[Candidate] = []
    if shown is not None and shown.candidates:
        candidates = _person_candidates(shown)
        masks = [_person_mask(shown)]
    else:
        masks = _machine_masks(regions, role)
    return MaskState(
        sample_id=sample.pk,
        role=role,
        label=ROLE_LABELS[role],
        width=sample.width,
        height=sample.height,
        version=version,
        head=head,
        shown=shown,
        candidates=candidates,
        masks=masks,
        can_redo=chain is not None and chain.can_redo,
        waiting_seconds=(time.time() - head.created_at.timestamp()) if head is not None else 0.0,
    )


def mask_states(
    *, sample: Sample, author_id: int | None, roles: Sequence[str] = ROLES
) -> list[MaskState]:
    """The elements' states for the person `author_id` (None: nobody's edits, only the
    machine's masks, as a reader who does not edit sees it), background first (the mask
    panel). One statement for the person's history, one for the head and shown edits when
    there are any, and the machine's regions unless the sample came with them prefetched."""
    version = time.time_ns() // 1000  # taken before reading: the state holds every earlier commit
    chains = _chains(sample_id=sample.pk, author_id=author_id)
    wanted = [pk for r in roles if r in chains for pk in (chains[r].head_id, chains[r].shown_id)]
    ids = {pk for pk in wanted if pk is not None}
    edits = MaskEdit.objects.in_bulk(ids) if ids else {}
    regions = _machine_regions(sample)
    return [
        _state(
            sample=sample,
            role=role,
            chain=chains.get(role),
            edits=edits,
            regions=regions,
            version=version,
        )
        for role in roles
    ]


def mask_state(*, sample: Sample, role: str, author_id: int | None) -> MaskState:
    """One element's state for the person `author_id` (mask_states)."""
    return mask_states(sample=sample, author_id=author_id, roles=(role,))[0]


@dataclass(frozen=True)
class PersonMask:
    """One person's current mask of one element, for those who compare people's work."""

    role: str
    author: str
    rle: dict[str, Any]
    segmenter: str
    score: float
    accepted: bool


def people_masks(*, sample: Sample) -> list[PersonMask]:
    """Each person's current mask of each element (their latest edit not undone that has a
    result), by element then name: what an adjudicator or auditor compares. Two queries; only
    the chosen edits' candidates are read."""
    finished = MaskEdit.objects.filter(sample=sample, undone=False, status=MaskEdit.Status.DONE)
    latest: dict[tuple[str, int | None], int] = {}
    for pk, role, author_id in finished.order_by("-seq").values_list("pk", "role", "author_id"):
        latest.setdefault((role, author_id), pk)
    edits = MaskEdit.objects.filter(pk__in=latest.values()).select_related("author")
    masks = [
        PersonMask(
            role=edit.role,
            author=edit.author.username if edit.author else "(deleted user)",
            rle=edit.candidates[edit.chosen]["rle"],
            segmenter=edit.segmenter,
            score=float(edit.candidates[edit.chosen]["score"]),
            accepted=edit.accepted_at is not None,
        )
        for edit in edits
        if edit.candidates
    ]
    return sorted(masks, key=lambda m: (ROLES.index(m.role), m.author))


def _machine_boxes(*, sample_id: int) -> QuerySet[Region]:
    """Imported or model regions of the sample that have a whole box."""
    return (
        Region.objects.filter(sample_id=sample_id)
        .exclude(origin=Region.Origin.PERSON)
        .exclude(Q(x1=None) | Q(y1=None) | Q(x2=None) | Q(y2=None))
    )


def boxes_without_masks(*, sample_id: int) -> Any:
    """Imported or model regions with a box and no mask yet (what segment_sample_regions fills)."""
    return _machine_boxes(sample_id=sample_id).filter(mask__isnull=True).order_by("id")


def has_boxes_without_masks(*, sample_id: int) -> bool:
    """Whether boxes_without_masks finds any: a prepared statement (every sample page asks)."""
    values = {"sample_id": sample_id}
    return bool(fetch(key="bare_boxes", build=_bare_box_ids, values=values))


def _bare_box_ids(*, sample_id: int) -> QuerySet[Any]:
    return boxes_without_masks(sample_id=sample_id).values_list("id")[:1]


def grounding_box(*, sample_id: int, role: str) -> tuple[float, float, float, float] | None:
    """The element's box from the machines (a detector's or an import's), corners in order;
    None when it has none. The best-scored one when several models grounded the element."""
    corners = (
        _machine_boxes(sample_id=sample_id)
        .filter(role=role)
        .order_by(F("score").desc(nulls_last=True), "id")
        .values_list("x1", "y1", "x2", "y2")
        .first()
    )
    if corners is None:
        return None
    x1, y1, x2, y2 = (float(v or 0.0) for v in corners)  # none is None: filtered above
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
