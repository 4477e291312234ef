"""Label Studio export: a JSON list of tasks, streamed one batch of samples at a time.

Each task: data.image (Label Studio's local-files URL of the image), data.critic (the critic's
latest verdict as text), data.meta (sample id, external id, status, source, size, hash, the
EmoReview image path, the label and who decided it); one prediction per model (its emotion,
confidence as score/10, triplet, description, its boxes and masks); one annotation per person
(the final label as ground truth, then every answer with that person's own accepted masks);
with a latent-class fit, one more prediction (`consensus:<method>`: the posterior's label with
its probability as score) and the posterior in data.meta.
The matching labeling config is labelstudio_config_xml(dataset=...). Layout in docs/formats.md.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import orjson
from django.urls import reverse

from annotator.models import Dataset
from review.selectors.export import batch_sample_ids, export_model_names
from review.selectors.export_labelstudio import batch_answers, batch_person_masks, emails_of
from review.selectors.snapshot import consistent_snapshot
from review.services.export_formats import ExportChunk, ExportOptions
from review.services.export_posterior import LABEL_FROM_DECIDED, SoftLabels, soft_labels_for
from review.services.export_rows import iter_export_batches_for
from review.services.labelstudio_config import labelstudio_config_xml
from review.services.labelstudio_tasks import labelstudio_task

__all__ = ["iter_labelstudio_export", "labelstudio_config_xml", "labelstudio_tasks"]

# A decision with one person behind it (a consensus names several: no single completed_by).
_ONE_PERSON = ("person", "adjudicator")


def iter_labelstudio_export(
    *, dataset: Dataset, scope: str, options: ExportOptions
) -> Iterator[ExportChunk]:
    """The tasks as one JSON array: "[", each batch's tasks, "]" (never the whole file in
    memory). All reads in one snapshot."""
    yield ExportChunk(b"[", 0)
    separator = b"\n"
    for tasks in labelstudio_tasks(dataset=dataset, scope=scope, label_from=options.label_from):
        body = b",\n".join(orjson.dumps(t) for t in tasks)  # compact UTF-8, as json.dumps
        yield ExportChunk(separator + body, len(tasks))
        separator = b",\n"
    yield ExportChunk(b"\n]\n", 0)


def labelstudio_tasks(
    *, dataset: Dataset, scope: str, label_from: str = LABEL_FROM_DECIDED
) -> Iterator[list[dict[str, Any]]]:
    """The tasks, one list per export batch, in sample id order."""
    image_url = reverse("review:sample_image", args=[0]).replace("/0/", "/{}/")
    with consistent_snapshot():
        model_names = export_model_names(dataset=dataset)
        soft = soft_labels_for(dataset=dataset, label_from=label_from)
        batches = iter_export_batches_for(
            dataset=dataset, scope=scope, model_names=model_names, soft=soft
        )
        for rows in batches:
            ids = batch_sample_ids(
                dataset=dataset,
                scope=scope,
                first_id=cast(int, rows[0]["sample_id"]),
                last_id=cast(int, rows[-1]["sample_id"]),
            )
            with _gc_paused():
                tasks = _batch_tasks(
                    rows, ids=ids, image_url=image_url, images_root=dataset.images_root, soft=soft
                )
            yield tasks


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a batch's tasks are built: they are ~30 small dicts and lists per
    sample, none in a cycle (reference counting frees them), and the collections their
    allocations triggered were ~40% of the export's CPU time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _batch_tasks(
    rows: Sequence[Mapping[str, Any]],
    *,
    ids: Any,
    image_url: str,
    images_root: str,
    soft: SoftLabels,
) -> list[Any]:
    answers = batch_answers(sample_ids=ids)
    masks = batch_person_masks(sample_ids=ids)
    emails = emails_of(
        usernames=(str(r["annotator"]) for r in rows if r["decided_by"] in _ONE_PERSON)
    )
    tasks = []
    for row in rows:
        sample_id = int(row["sample_id"])
        tasks.append(
            labelstudio_task(
                row=row,
                answers=answers.get(sample_id, []),
                person_masks=masks.get(sample_id, {}),
                decider_email=emails.get(str(row["annotator"]))
                if row["decided_by"] in _ONE_PERSON
                else None,
                emoreview_image_url=image_url.format(sample_id),
                images_root=images_root,
                soft=soft,
            )
        )
    return tasks
