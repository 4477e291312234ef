"""The DES map: a 2-D projection of a dataset's DES vectors, and the selections drawn on it.

A map is a job (claimed with a conditional UPDATE, like ConsensusFit) whose result is stored
compactly in one BinaryField: the sample ids (int32) and the coordinates (float32 x, then y),
all little-endian and in id order (review/services/des_map_store.py packs and unpacks them).
At 219K samples that is 2.6 MB, read whole by the page's binary endpoint.

A selection (box or lasso on the map) is a token plus one row per sample, so the queue filters
with a subquery (review/selectors/des_map.py) rather than an IN list SQLite could not bind.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models import Dataset, Sample


class DesMap(models.Model):
    class Method(models.TextChoices):
        PCA = "pca", "PCA"
        UMAP = "umap", "UMAP"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="des_maps")
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.PCA)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # What the DES looked like when the map was computed: "<count>:<digest of the vectors>" of
    # the dataset's samples with a DES (review.selectors.des_map.des_cache_key).
    cache_key = models.CharField(max_length=100, blank=True)
    n_points = models.PositiveIntegerField(default=0)
    points = models.BinaryField(null=True, blank=True)  # int32 ids, float32 x, float32 y
    # Share of the variance the two axes explain (PCA only).
    explained = models.JSONField(default=list, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    # Claimed with a conditional UPDATE; a lapsed lease lets another worker take it over.
    claimed_by = models.CharField(max_length=255, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["dataset", "method", "status", "-computed_at"])]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.method}#{self.pk} ({self.status})"


class MapSelection(models.Model):
    """Samples picked on the map (box or lasso), for the queue's `?selection=<token>`."""

    token = models.CharField(max_length=32, unique=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    des_map = models.ForeignKey(DesMap, null=True, on_delete=models.SET_NULL, related_name="+")
    n_samples = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.token} ({self.n_samples} of {self.dataset_id})"


class MapSelectionSample(models.Model):
    selection = models.ForeignKey(MapSelection, on_delete=models.CASCADE, related_name="rows")
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["selection", "sample"], name="mapselection_sample")
        ]

    def __str__(self) -> str:
        return f"{self.selection_id}:{self.sample_id}"
