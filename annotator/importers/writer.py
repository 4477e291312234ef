"""Write validated records in batches: a fixed number of bulk queries per batch, not per sample.

Called by annotator.services.importing inside its transaction. Re-importing an id updates the
sample, upserts proposals per (sample, model), replaces the sample's import-origin regions and
its imported critic verdict; person-origin regions and adjudications are left alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from annotator.importers.decisions import ADJUDICATED, RESTORED, DecisionConflict, find_conflicts
from annotator.importers.images import ImageInfo
from annotator.importers.inserts import insert_prepared
from annotator.importers.lines import CheckedLine
from annotator.importers.masks import ImportedMask
from annotator.importers.records import ParsedRecord
from annotator.importers.rows import (
    IMPORTED_VERDICT_CHECKS,
    PreparedLine,
    prepare_line,
    row_context,
)
from annotator.importers.verify import verify_samples
from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample
from annotator.proposal_fields import PROPOSAL_FIELDS

SAMPLE_FIELDS = ["image_path", "source", "width", "height", "content_hash", "des", "updated_at"]


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    conflicts: list[DecisionConflict] = field(default_factory=list)  # people's decisions met
    conflict_statuses: dict[int, str] = field(default_factory=dict)  # their status after


def write_batch(
    *,
    dataset: Dataset,
    rows: Sequence[CheckedLine | PreparedLine],
    counts: WriteCounts,
    override_decisions: bool = False,
    all_new: bool = False,
) -> None:
    """Write one batch: new samples by plain inserts, existing ones by upserts. `all_new`: the
    dataset had no samples when the import began (and ids are unique), so none is looked up.
    PreparedLine rows (made when the import knew every sample is new) are inserted as they are."""
    prepared = [row for row in rows if isinstance(row, PreparedLine)]
    if prepared:
        insert_prepared(lines=prepared)
        counts.created += len(prepared)
        counts.statuses.update(line.status for line in prepared)
    checked = [row for row in rows if isinstance(row, CheckedLine)]
    if checked:
        _write_checked(dataset, checked, counts, override_decisions, all_new)


def _write_checked(
    dataset: Dataset,
    rows: Sequence[CheckedLine],
    counts: WriteCounts,
    override_decisions: bool,
    all_new: bool,
) -> None:
    if all_new:
        existing: set[str] = set()
    else:
        ids = [row.record.external_id for row in rows]
        existing = set(
            Sample.objects.filter(dataset=dataset, external_id__in=ids).values_list(
                "external_id", flat=True
            )
        )
    now = timezone.now()
    new = [row for row in rows if row.record.external_id not in existing]
    if new:
        _insert_new(dataset, new, counts, now)
    if len(new) < len(rows):
        old = [row for row in rows if row.record.external_id in existing]
        _update_existing(dataset, old, counts, override_decisions, now)


def _insert_new(
    dataset: Dataset, rows: Sequence[CheckedLine], counts: WriteCounts, now: datetime
) -> None:
    context = row_context(dataset=dataset, now=now)
    prepared = [
        prepare_line(record=row.record, image=row.image, masks=row.masks, rows=context)
        for row in rows
    ]
    insert_prepared(lines=prepared)
    counts.created += len(rows)
    counts.statuses.update(line.status for line in prepared)


def _update_existing(
    dataset: Dataset,
    rows: Sequence[CheckedLine],
    counts: WriteCounts,
    override_decisions: bool,
    now: datetime,
) -> None:
    """Upsert samples that exist, with their proposals, regions and verdicts, then verify.

    A person's decision the file contradicts is kept unless `override_decisions`
    (annotator.importers.decisions); either way it is listed in `counts.conflicts`.
    """
    statuses, pks, new = _upsert_samples(dataset, rows, now)
    records = [(pks[row.record.external_id], row.record) for row in rows]
    conflicts = find_conflicts(records=records, statuses=statuses, new=new)
    kept = (
        set() if override_decisions else {pk for pk, c in conflicts.items() if c.kind == RESTORED}
    )
    _upsert_proposals(records, now)
    _replace_regions(records, [(pks[row.record.external_id], row.masks) for row in rows])
    _replace_verdicts([(pk, record) for pk, record in records if pk not in kept])
    if override_decisions:  # the file's verdict decides, as for a sample nobody decided
        statuses.update(
            {pk: Sample.Status.PENDING for pk, c in conflicts.items() if c.kind == ADJUDICATED}
        )
    new_statuses = verify_samples(dataset=dataset, statuses=statuses)
    counts.created += len(new)
    counts.updated += len(rows) - len(new)
    counts.statuses.update(new_statuses.values())
    counts.conflicts.extend(conflicts.values())
    counts.conflict_statuses.update({pk: new_statuses[pk] for pk in conflicts})


def _upsert_samples(
    dataset: Dataset, rows: Sequence[CheckedLine], now: datetime
) -> tuple[dict[int, str], dict[str, int], set[int]]:
    """({sample id: status before}, {external id: sample id}, ids of the new samples)."""
    ids = [row.record.external_id for row in rows]
    before = {
        external_id: (pk, status)
        for external_id, pk, status in Sample.objects.filter(
            dataset=dataset, external_id__in=ids
        ).values_list("external_id", "pk", "status")
    }
    Sample.objects.bulk_create(
        [_sample(dataset, row.record, row.image, now) for row in rows],
        update_conflicts=True,
        unique_fields=["dataset", "external_id"],
        update_fields=SAMPLE_FIELDS,
    )
    # Ids are looked up rather than trusted from RETURNING, whose row order SQLite leaves open.
    pks = {external_id: pk for external_id, (pk, _) in before.items()}
    new_ids = [external_id for external_id in ids if external_id not in before]
    pks.update(
        Sample.objects.filter(dataset=dataset, external_id__in=new_ids).values_list(
            "external_id", "pk"
        )
    )
    statuses = {pks[i]: before.get(i, (0, Sample.Status.PENDING))[1] for i in ids}
    return statuses, pks, {pks[i] for i in new_ids}


def _sample(dataset: Dataset, record: ParsedRecord, image: ImageInfo, now: datetime) -> Sample:
    return Sample(
        dataset=dataset,
        external_id=record.external_id,
        image_path=record.image_path,
        source=record.source,
        width=image.width,
        height=image.height,
        content_hash=image.content_hash,
        des=record.des,
        updated_at=now,
    )


def _upsert_proposals(records: list[tuple[int, ParsedRecord]], now: datetime) -> None:
    proposals = [
        Proposal(
            sample_id=pk,
            model_name=p.model_name,
            description=p.description,
            emotion=p.emotion,
            confidence=p.confidence,
            background=p.background,
            attribute=p.attribute,
            subject=p.subject,
            raw=p.raw,
            updated_at=now,
        )
        for pk, record in records
        for p in record.proposals
    ]
    if proposals:
        Proposal.objects.bulk_create(
            proposals,
            update_conflicts=True,
            unique_fields=["sample", "model_name"],
            update_fields=PROPOSAL_FIELDS,
        )


def _replace_regions(
    records: list[tuple[int, ParsedRecord]],
    masks: list[tuple[int, tuple[tuple[str, ImportedMask], ...]]],
) -> None:
    """The import-origin regions become the lines' boxes (role subject) and masks."""
    Region.objects.filter(
        sample_id__in=[pk for pk, _ in records], origin=Region.Origin.IMPORT
    ).delete()
    boxes = [
        Region(
            sample_id=pk,
            role=Region.Role.SUBJECT,
            phrase=p.subject,
            x1=item.box.x1,
            y1=item.box.y1,
            x2=item.box.x2,
            y2=item.box.y2,
            origin=Region.Origin.IMPORT,
            model_name=p.model_name,
        )
        for pk, record in records
        for p in record.proposals
        for item in p.boxes
    ]
    Region.objects.bulk_create(
        boxes + [_mask_region(pk, model, mask) for pk, found in masks for model, mask in found]
    )


def _mask_region(sample_id: int, model_name: str, mask: ImportedMask) -> Region:
    box = mask.box
    return Region(
        sample_id=sample_id,
        role=mask.role,
        phrase=mask.phrase,
        x1=box.x1 if box else None,
        y1=box.y1 if box else None,
        x2=box.x2 if box else None,
        y2=box.y2 if box else None,
        mask=mask.rle,
        origin=Region.Origin.IMPORT,
        model_name=model_name,
    )


def _replace_verdicts(records: list[tuple[int, ParsedRecord]]) -> None:
    CriticVerdict.objects.filter(
        sample_id__in=[pk for pk, _ in records], checks__origin=IMPORTED_VERDICT_CHECKS["origin"]
    ).delete()
    CriticVerdict.objects.bulk_create(
        CriticVerdict(
            sample_id=pk,
            model_name=record.critic.model_name,
            verdict=record.critic.verdict,
            emotion=record.critic.emotion,
            reasoning=record.critic.reasoning,
            instructions=record.critic.instructions,
            checks=dict(IMPORTED_VERDICT_CHECKS),
        )
        for pk, record in records
        if record.critic is not None
    )
