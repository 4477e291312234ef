"""Batch mode's rows: a provider batch and the requests in it (imported by annotator.models).

A unit whose endpoint has mode = "batch" is claimed as usual; its request is then kept as a
BatchRequest and the unit stays running, held by BATCH_HOLDER with a long lease, until the
batch that carries it is ingested. Batch ids live here, so polling resumes after a restart.
"""

from __future__ import annotations

from django.db import models

from annotator.models import PipelineRun, StageResult


class ModelBatch(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"  # rows written; the provider's batch not (known to be) created yet
        SUBMITTED = "submitted"
        DONE = "done"  # ingested
        CANCELLED = "cancelled"

    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="model_batches")
    stage = models.CharField(max_length=16)
    endpoint = models.CharField(max_length=100)  # the annotator's name, or the critic's
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    provider_status = models.CharField(max_length=32, blank=True)
    batch_id = models.CharField(max_length=255, blank=True)
    input_file_id = models.CharField(max_length=255, blank=True)
    # Sent as metadata: finds a batch created just before a crash, before its id was saved.
    key = models.CharField(max_length=64, unique=True)
    requests = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "run"])]

    def __str__(self) -> str:
        return f"batch {self.batch_id or self.key} ({self.endpoint}, {self.status})"


class BatchRequest(models.Model):
    unit = models.OneToOneField(StageResult, on_delete=models.CASCADE, related_name="batch_request")
    batch = models.ForeignKey(
        ModelBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    body = models.JSONField()  # the chat request, as the JSONL line's body
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"request of unit {self.unit_id}"
