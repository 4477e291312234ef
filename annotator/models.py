"""The machine side's data: datasets, samples and what models said about them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Taxonomy(models.Model):
    """A closed set of emotion labels, in display order."""

    name = models.SlugField(max_length=64, unique=True)
    labels = models.JSONField(default=list)
    # {"label": ["synonym", ...]} and {"group name": ["label", ...]} (EmoNet-Face's guide.json).
    synonyms = models.JSONField(default=dict, blank=True)
    groups = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "taxonomies"

    def __str__(self) -> str:
        return self.name


class Dataset(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.PROTECT, related_name="datasets")
    # {"gpt-4o": 1.0, "gemini-2.5": 1.2, ...}; models not listed weigh 1.0.
    model_weights = models.JSONField(default=dict, blank=True)
    images_root = models.CharField(max_length=1000, blank=True)
    # Team review: each disputed sample goes to k people, blind to each other.
    overlap_k = models.PositiveSmallIntegerField(default=2)
    lease_seconds = models.PositiveIntegerField(default=1800)
    # Share of agreed samples also sent to people (EmoVerse's manual random sampling).
    agreed_review_share = models.FloatField(default=0.0)
    # Binary agreement protocol: when to ask a 2nd and 3rd person, e.g.
    # {"max_votes": 3, "second_when": "yes", "third_when": "split"}.
    binary_protocol = models.JSONField(default=dict, blank=True)
    # Blind to machines: an annotator commits an emotion before the page shows the models'
    # proposals, the critic, the boxes and any prefill (both answers are kept: anchoring).
    machine_blind = models.BooleanField(
        default=False,
        help_text="Annotators answer before they see the machines' proposals, critic and boxes; "
        "then they may revise. Both answers are kept so the audit can measure anchoring.",
    )
    # What a dataset paper must state about reuse: exports carry both (COCO info/licenses,
    # Parquet columns, the datasheet).
    # Which disputed samples people see first: by id, or where one more answer is worth most
    # according to the latest consensus fit (review.models_consensus.SamplePosterior).
    review_order = models.CharField(
        max_length=16,
        choices=[
            ("id", "By id"),
            ("entropy", "Most uncertain first (posterior entropy)"),
            ("expected_change", "Most likely to change first (expected change of the label)"),
        ],
        default="id",
    )
    # The latent-class model fitted over every rater (review.models_consensus.ConsensusFit).
    consensus_method = models.CharField(
        max_length=16,
        choices=[("dawid_skene", "Dawid-Skene"), ("mace", "MACE"), ("glad", "GLAD")],
        default="dawid_skene",
    )
    licence = models.CharField(max_length=200, blank=True, help_text="e.g. CC BY-NC 4.0")
    attribution = models.TextField(blank=True, help_text="how to cite or credit the images")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Sample(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        AGREED = "agreed"
        DISPUTED = "disputed"
        ADJUDICATED = "adjudicated"
        DROPPED = "dropped"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="samples")
    external_id = models.CharField(max_length=200)
    image_path = models.CharField(max_length=1000)
    source = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    # 1024 little-endian float32 values (4 KiB) or NULL.
    des = models.BinaryField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    suggested_emotion = models.CharField(max_length=64, blank=True)
    vote_margin = models.FloatField(null=True, blank=True)
    dispute_reasons = models.JSONField(default=list, blank=True)
    # Sent to people although the models agree (the random human-check share).
    human_check = models.BooleanField(default=False)
    # A gold sample's known answer; measures each annotator.
    gold_emotion = models.CharField(max_length=64, blank=True)
    # When status last changed (an agreed sample's decision time): updated_at moves on every
    # write, an identical re-import included, so exports cannot use it as decided_at.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="sample_unique_id"),
        ]
        indexes = [
            # The queue: WHERE dataset AND status [AND source | suggested] ORDER BY id.
            models.Index(fields=["dataset", "status", "id"], name="sample_queue"),
            models.Index(fields=["dataset", "status", "source", "id"], name="sample_queue_source"),
            models.Index(
                fields=["dataset", "status", "suggested_emotion", "id"], name="sample_queue_emotion"
            ),
            models.Index(fields=["content_hash"], name="sample_hash"),
            # "Next" across every dataset: WHERE status ORDER BY id, reading ids, not rows.
            models.Index(fields=["status", "id"], name="sample_status"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.external_id}"


class Proposal(models.Model):
    """One model's annotation of one sample (a VLM, or an EmoViT-like classifier)."""

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="proposals")
    model_name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    emotion = models.CharField(max_length=64, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    background = models.CharField(max_length=300, blank=True)
    attribute = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    # Label distribution from a classifier: {"awe": 0.7, ...}; empty for VLMs.
    distribution = models.JSONField(default=dict, blank=True)
    prompt_version = models.CharField(max_length=64, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "model_name"], name="proposal_unique_model"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name}: {self.emotion}"


class Region(models.Model):
    """A B-A-S element grounded in pixels: a box, optionally a mask (COCO RLE)."""

    class Role(models.TextChoices):
        BACKGROUND = "background"
        ATTRIBUTE = "attribute"
        SUBJECT = "subject"

    class Origin(models.TextChoices):
        IMPORT = "import"
        MODEL = "model"
        PERSON = "person"

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="regions")
    role = models.CharField(max_length=16, choices=Role.choices)
    phrase = models.CharField(max_length=300, blank=True)
    x1 = models.FloatField(null=True, blank=True)
    y1 = models.FloatField(null=True, blank=True)
    x2 = models.FloatField(null=True, blank=True)
    y2 = models.FloatField(null=True, blank=True)
    # {"size": [h, w], "counts": "<compressed RLE string>"}
    mask = models.JSONField(null=True, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.IMPORT)
    model_name = models.CharField(max_length=100, blank=True)
    segmenter = models.CharField(max_length=64, blank=True)
    score = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["sample", "role"], name="region_sample_role")]

    def __str__(self) -> str:
        return f"{self.role}: {self.phrase}"

    @property
    def box(self) -> list[float] | None:
        if self.x1 is None or self.y1 is None or self.x2 is None or self.y2 is None:
            return None
        return [self.x1, self.y1, self.x2, self.y2]


class CriticVerdict(models.Model):
    """The Critic Agent's judgement of a sample: preserve, revise or drop, with its reasoning."""

    class Verdict(models.TextChoices):
        PRESERVE = "preserve"
        REVISE = "revise"
        DROP = "drop"

    # model_name of a person's verdict (an admin's restore): "person:<username>".
    PERSON_PREFIX = "person:"

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="verdicts")
    model_name = models.CharField(max_length=100, default="critic")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    emotion = models.CharField(max_length=64, blank=True)
    reasoning = models.TextField(blank=True)
    instructions = models.TextField(blank=True)
    checks = models.JSONField(default=dict, blank=True)
    prompt_version = models.CharField(max_length=64, blank=True)
    round = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["sample", "-created_at"], name="verdict_latest")]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"{self.model_name}: {self.verdict}"


class PipelineRun(models.Model):
    """One run of the annotation pipeline over a dataset; progress lives in StageResult rows."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        CANCELLED = "cancelled"
        FAILED = "failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="runs")
    config = models.JSONField(default=dict)  # the parsed TOML, keys never included
    config_path = models.CharField(max_length=1000, blank=True)
    stages = models.JSONField(default=list)
    limit = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When stuck units were last looked for (the progress page's check takes turns by it).
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"run {self.pk} on {self.dataset_id}: {self.status}"


class StageResult(models.Model):
    """A unit of pipeline work: one stage for one sample (and model, prompt version, round).

    Unique per (sample, stage, model, prompt version, round): running again skips what is done.
    Claimed by a worker with a conditional UPDATE (pending -> running), so redelivery is harmless.
    """

    class Stage(models.TextChoices):
        ANNOTATE = "annotate"
        CALIBRATE = "calibrate"
        GROUND = "ground"
        VERIFY = "verify"
        CRITIC = "critic"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        SKIPPED = "skipped"

    run = models.ForeignKey(
        PipelineRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="results"
    )
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="stage_results")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    model_name = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=64, blank=True)
    round = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    output = models.JSONField(default=dict, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The running claim: which worker process ("node:main pid:pid") holds the unit and until
    # when; renewed while the unit runs, so a dead worker's unit is retaken once it lapses
    # (annotator/pipeline/runs/lease.py).
    claimed_by = models.CharField(max_length=255, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The outbox: set when the unit is due to be sent to a worker, cleared once the broker took
    # the message (sent_at); a due unit the broker never took is sent again from here.
    send_due = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sample", "stage", "model_name", "prompt_version", "round"],
                name="stageresult_unique_work",
            ),
        ]
        indexes = [
            models.Index(fields=["run", "stage", "status"], name="stageresult_progress"),
            # The re-send check reads only the few units due and not yet taken by the broker.
            models.Index(
                fields=["send_due"],
                condition=models.Q(send_due__isnull=False),
                name="stageresult_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id}/{self.stage}/{self.model_name}: {self.status}"


class WorkerHeartbeat(models.Model):
    """A Celery worker's last sign of life, written every few seconds by the worker itself
    (annotator/pipeline/runs/lease.py); /healthz reports the workers seen lately."""

    name = models.CharField(max_length=255, unique=True)  # Celery's node name, worker@host
    queues = models.JSONField(default=list)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.name} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


# Batch mode (annotator/pipeline/batch.py): its rows live beside the pipeline code.
from annotator.pipeline.batch_models import BatchRequest, ModelBatch  # noqa: E402, F401
