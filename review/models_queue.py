"""Samples per queue bucket, kept by the database itself (see review/migrations/0008_queuecount).

The queue page shows samples per status, the filter choices and the paginator's total. Counting
them from `annotator_sample` on every page made its cost grow with the dataset (~70 ms of 100 at
219K samples). Triggers on `annotator_sample` keep these rows instead, on every write path at
once (imports, pipeline runs, people's saves, admin edits, deletes), in the writer's own
transaction, so a reader sees exactly the samples its snapshot sees:

- SQLite (one writer at a time): one row per bucket, updated in place by row triggers.
- PostgreSQL: statement triggers append one delta row per bucket a statement changed (never an
  UPDATE of a shared row: concurrent saves would queue behind each other, an import's long
  transaction would hold the row, and two saves moving samples in opposite directions could
  deadlock); readers sum them, and review.services.queue_counts.compact folds them now and then.
"""

from __future__ import annotations

from django.db import models


class QueueCount(models.Model):
    # A plain column, not a foreign key: the rows are written by triggers while samples and
    # datasets are being deleted, in whatever order a cascade or `flush` takes.
    dataset_id = models.BigIntegerField()
    status = models.CharField(max_length=16)
    source = models.CharField(max_length=64, blank=True)
    suggested_emotion = models.CharField(max_length=64, blank=True)
    human_check = models.BooleanField()
    gold = models.BooleanField()  # gold_emotion is not empty
    n = models.BigIntegerField()  # samples in the bucket (a signed delta on PostgreSQL)

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.status}/{self.source}/{self.suggested_emotion}: {self.n}"


class SampleLoad(models.Model):
    """People's rows per sample, kept by triggers (review/services/sample_loads.py) on answers,
    votes, leases and samples: one row for every sample anyone answered, voted on or was handed,
    with its answers + votes, its answers, and whether it is disputed or open now.

    "How many samples could Next still hand me?" counted the samples that cannot be taken by
    grouping every answer, vote and lease ever made: its cost grew with the team's whole work
    (130K answers at the end of EmoVerse's 219K). The disputed rows here are the work in flight
    instead (samples being answered, conflicts waiting for an adjudicator, skipped ones).
    """

    # Plain columns, not foreign keys: written by triggers while samples are being deleted.
    sample_id = models.BigIntegerField(primary_key=True)
    dataset_id = models.BigIntegerField()
    n = models.IntegerField()  # answers + binary votes
    answers = models.IntegerField()  # answers alone (k of them in: consensus or a conflict)
    disputed = models.BooleanField()  # the sample's status is disputed
    # Waits for people: disputed, or agreed and picked for a human check (review's open_q).
    open = models.BooleanField()
    gold = models.BooleanField()  # gold_emotion is not empty: never capped by k

    class Meta:
        indexes = [
            models.Index(
                fields=["dataset_id"], condition=models.Q(disputed=True), name="sampleload_disputed"
            ),
            models.Index(
                fields=["dataset_id"], condition=models.Q(open=True), name="sampleload_open"
            ),
        ]

    def __str__(self) -> str:
        return f"sample {self.sample_id}: {self.n}"
