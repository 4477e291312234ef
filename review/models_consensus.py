"""One truth from many raters: a latent-class model fitted over every rating of a dataset.

Every VLM, the classifier, the critic and every person rates the same item; a fit (Dawid-Skene by
default, via crowd-kit) gives each sample a posterior over the taxonomy and each rater a confusion
matrix. Only the latest finished fit's posteriors are kept per sample (one row a sample), so the
queue can order by them through an index; the fits themselves are a short history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models import Dataset, Sample


class ConsensusFit(models.Model):
    """One fit of a latent-class model over all of a dataset's ratings (a job: claimed, run)."""

    class Method(models.TextChoices):
        DAWID_SKENE = "dawid_skene", "Dawid-Skene"
        MACE = "mace", "MACE"
        GLAD = "glad", "GLAD"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="consensus_fits")
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.DAWID_SKENE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    labels = models.JSONField(default=list)  # the taxonomy's labels, the order of every vector
    # {rater key: {"kind": "model"|"classifier"|"critic"|"person", "name": str, "n": int,
    #  "accuracy": float, "accuracy_low": float, "accuracy_high": float,
    #  "confusion": [[P(says j | truth i)] ...]}}; keys "model:<name>", "critic:<name>",
    #  "person:<user id>".
    raters = models.JSONField(default=dict, blank=True)
    n_samples = models.PositiveIntegerField(default=0)
    n_ratings = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)  # the fit itself, not the queue wait
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Claimed with a conditional UPDATE; a lapsed lease lets another worker take it over.
    claimed_by = models.CharField(max_length=255, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["dataset", "status", "-finished_at"])]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.method}#{self.pk} ({self.status})"


class SamplePosterior(models.Model):
    """The latest finished fit's belief about one sample."""

    sample = models.OneToOneField(
        Sample, primary_key=True, on_delete=models.CASCADE, related_name="posterior"
    )
    # Denormalised from the sample so the queue's order index needs no join to filter.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    fit = models.ForeignKey(ConsensusFit, on_delete=models.CASCADE, related_name="posteriors")
    probs = models.BinaryField()  # little-endian float32, one per fit.labels, summing to 1
    label = models.CharField(max_length=64)  # the most probable label
    p_label = models.FloatField()
    entropy = models.FloatField()  # bits; 0 is certain, log2(len(labels)) is uniform
    # P(one more person's answer changes the most probable label), with the people's mean
    # confusion matrix from the same fit.
    expected_change = models.FloatField()
    n_ratings = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["dataset", "-entropy", "sample"], name="review_post_entropy"),
            models.Index(
                fields=["dataset", "-expected_change", "sample"], name="review_post_change"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id}: {self.label} {self.p_label:.2f}"
