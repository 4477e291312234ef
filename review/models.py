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
