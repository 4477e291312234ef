"""The human side's data: what people decided."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models import Sample


class Adjudication(models.Model):
    """A person's decision on a sample: label, confidence and B-A-S triplet."""

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="adjudications")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="adjudications"
    )
    emotion = models.CharField(max_length=64)
    confidence = models.FloatField()
    background = models.CharField(max_length=300, blank=True)
    attribute = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["sample", "-decided_at"], name="adjudication_latest"),
            models.Index(fields=["annotator", "-decided_at"], name="adjudication_by_user"),
        ]
        get_latest_by = "decided_at"

    def __str__(self) -> str:
        return f"{self.sample_id} by {self.annotator_id}: {self.emotion}"


class MaskEdit(models.Model):
    """One refinement of one B-A-S element's mask: the clicks a person made and what came back.

    Rows are the mask's history. `seq` grows per (sample, role); a worker result for an edit
    whose seq is below the latest one for that element is stale and never shown over newer work.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        STALE = "stale"

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="mask_edits")
    role = models.CharField(max_length=16)  # annotator.models.Region.Role
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mask_edits",
    )
    seq = models.PositiveIntegerField()
    # [[x, y, label], ...] in image pixels; label 1 adds, 0 removes.
    points = models.JSONField(default=list, blank=True)
    box = models.JSONField(null=True, blank=True)  # [x1, y1, x2, y2]
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # [{"rle": {"size": [h, w], "counts": "..."}, "score": 0.93}, ...], best first.
    candidates = models.JSONField(default=list, blank=True)
    chosen = models.PositiveSmallIntegerField(default=0)
    segmenter = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    undone = models.BooleanField(default=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "role", "seq"], name="maskedit_unique_seq"),
        ]
        indexes = [models.Index(fields=["sample", "role", "-seq"], name="maskedit_latest")]

    def __str__(self) -> str:
        return f"{self.sample_id}/{self.role}#{self.seq} {self.status}"
