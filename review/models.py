"""The human side's data: what people decided."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models import Dataset, Sample


class Adjudication(models.Model):
    """A version of a sample's final label: emotion, confidence and B-A-S triplet.

    Rows are append-only versions per sample: a save names the version it was based on and
    writes version + 1; the unique (sample, version) constraint lets exactly one of two
    concurrent saves win. The current label is the highest version that is not reverted.
    """

    class Method(models.TextChoices):
        PERSON = "person"  # one person decided directly (overlap k = 1)
        CONSENSUS = "consensus"  # the k blind answers agreed
        ADJUDICATOR = "adjudicator"  # an adjudicator resolved disagreeing answers

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="adjudications")
    # The person who decided; null for consensus (the answering people are in `details`).
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjudications",
    )
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.PERSON)
    version = models.PositiveIntegerField(default=1)
    reverted = models.BooleanField(default=False)
    emotion = models.CharField(max_length=64)
    confidence = models.FloatField()
    background = models.CharField(max_length=300, blank=True)
    attribute = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "version"], name="adjudication_version"),
        ]
        indexes = [
            models.Index(fields=["sample", "-decided_at"], name="adjudication_latest"),
            models.Index(fields=["annotator", "-decided_at"], name="adjudication_by_user"),
        ]
        get_latest_by = "decided_at"

    def __str__(self) -> str:
        return f"{self.sample_id} v{self.version} ({self.method}): {self.emotion}"


class Assignment(models.Model):
    """A lease: a sample reserved for one person until `expires_at`.

    At most one row per (sample, annotator), so nobody answers a sample twice; at most the
    dataset's overlap k active-or-submitted rows per sample (enforced under a row lock).
    """

    class Kind(models.TextChoices):
        ANNOTATE = "annotate"  # a blind answer (label) or a binary yes/no unit
        ADJUDICATE = "adjudicate"  # resolve disagreeing answers

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"
        EXPIRED = "expired"

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ANNOTATE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    leased_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sample", "annotator", "kind"], name="assignment_once_per_person"
            ),
        ]
        indexes = [
            models.Index(fields=["sample", "kind", "status"], name="assignment_by_sample"),
            models.Index(fields=["annotator", "status", "expires_at"], name="assignment_by_user"),
            # A person's work in the order it was handed out ("7 of 40", J/K): the neighbours
            # read by two probes and the place counted from the index alone, not by sorting
            # every lease of theirs (6,380 at the end of EmoVerse: 6.9 ms a sample page).
            # Partial: a query has to name these statuses to use it. Without statistics,
            # PostgreSQL took a full index for the per-sample check of someone's own lease,
            # walking all their leases for each candidate of "Next".
            models.Index(
                fields=["annotator", "kind", "leased_at", "id"],
                name="assignment_work_order",
                condition=models.Q(status__in=["active", "submitted"]),
            ),
            # The figures of "Your work" (done, today, held, skipped): each a range of it.
            models.Index(
                fields=["annotator", "kind", "status", "finished_at", "leased_at"],
                name="assignment_progress",
            ),
            # The live leases (a few rows): "Next" and the available count read them without
            # scanning every lease ever handed out.
            models.Index(
                fields=["sample"],
                name="assignment_active",
                condition=models.Q(status="active"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} -> {self.annotator_id} ({self.status})"


class Annotation(models.Model):
    """One person's blind answer on a sample (made in the app or imported from elsewhere).

    `emotion` holds a category answer; `value_number` a numeric one (long-format imports).
    """

    class Source(models.TextChoices):
        APP = "app"
        IMPORT = "import"

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    emotion = models.CharField(max_length=64, blank=True)
    value_number = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    background = models.CharField(max_length=300, blank=True)
    attribute = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.APP)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "annotator"], name="annotation_once"),
        ]
        indexes = [
            models.Index(fields=["annotator", "created_at"], name="annotation_by_user"),
            # "Has this person answered that sample?", asked for many samples at once (the
            # available count): both columns in the index, so a planner without statistics
            # on people's tables does not walk all of the person's answers for each sample.
            models.Index(fields=["annotator", "sample"], name="annotation_by_user_sample"),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} by {self.annotator_id}: {self.emotion or self.value_number}"


class BlindAnswer(models.Model):
    """A person's first answer on a sample of a machine-blind dataset, committed before the
    page showed the machines' proposals, critic and boxes (annotator.models.Dataset
    .machine_blind). The final answer is the person's Annotation on the same sample; the two
    side by side measure anchoring (review.selectors.anchoring). Its existence is also what
    keeps the page revealed on a reload.
    """

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="blind_answers")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blind_answers"
    )
    emotion = models.CharField(max_length=64)
    confidence = models.FloatField()
    background = models.CharField(max_length=300, blank=True)
    attribute = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    # What the machines suggested when the page revealed them (anchoring is measured against
    # it; a later re-verification may change the sample's suggestion).
    suggested_emotion = models.CharField(max_length=64, blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "annotator"], name="blindanswer_once"),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} by {self.annotator_id} (blind): {self.emotion}"


class BinaryVote(models.Model):
    """A yes/no answer to "is `emotion` present?" (EmoNet-Face's binary agreement protocol).

    The unit of agreement is (sample, emotion); a second and third vote are asked only when the
    dataset's rule needs them.
    """

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="binary_votes")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="binary_votes"
    )
    emotion = models.CharField(max_length=64)
    value = models.BooleanField()
    source = models.CharField(
        max_length=16, choices=Annotation.Source.choices, default=Annotation.Source.APP
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sample", "emotion", "annotator"], name="binaryvote_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id}/{self.emotion} by {self.annotator_id}: {self.value}"


class Draft(models.Model):
    """Autosaved, unsubmitted form state of one person on one sample."""

    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="drafts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    data = models.JSONField(default=dict)
    base_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "author"], name="draft_once"),
        ]

    def __str__(self) -> str:
        return f"draft of {self.author_id} on {self.sample_id}"


class AuditEvent(models.Model):
    """Who changed what, when, with the state before and after: the sample's history."""

    sample = models.ForeignKey(
        Sample, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    action = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["sample", "-at"], name="auditevent_history")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} on {self.sample_id}"


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
    # Set by the worker while it encodes the image for this edit (the page says "preparing").
    preparing = models.BooleanField(default=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The running claim: which worker process ("host:pid") and until when it holds the edit
    # (renewed while it computes); past lease_until, or once that process is gone, another
    # delivery takes the edit over (review/services/mask_worker.py).
    claimed_by = models.CharField(max_length=255, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The outbox (review/services/mask_dispatch.py): when a message for this edit was last
    # handed to the broker, and why that failed ("" = it did not).
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "role", "seq"], name="maskedit_unique_seq"),
        ]
        indexes = [
            models.Index(fields=["sample", "role", "-seq"], name="maskedit_latest"),
            # The sweep for stuck edits reads only the few unfinished rows.
            models.Index(
                fields=["status"],
                condition=models.Q(status__in=["pending", "running"]),
                name="maskedit_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id}/{self.role}#{self.seq} {self.status}"


class ExportJob(models.Model):
    """One export run in the background (review/services/export_jobs.py): its files go under
    settings.EXPORT_ROOT/<id>/, its progress is counted here for the page and the API.

    A worker claims the job with a conditional UPDATE (claimed_by "host:pid", lease_until,
    renewed while it writes); a killed worker's job is retaken once the lease lapses (or its
    process is gone) and written again from the start: every file is written atomically, so a
    half-written one never shows.
    """

    class Kind(models.TextChoices):
        LABELS = "labels"  # the decided labels (review.services.export_formats.FORMATS)
        ANSWERS = "answers"  # every human answer and vote, one row each

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="export_jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.LABELS)
    fmt = models.CharField(max_length=32)
    scope = models.CharField(max_length=16, default="decided")
    # {"formula_guard": bool, "embed_images": bool} (ExportOptions' fields)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    file_name = models.CharField(max_length=255, blank=True)  # the main file, once written
    file_size = models.BigIntegerField(null=True, blank=True)  # bytes so far while running
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="export_jobs",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The running claim, as MaskEdit's: which worker process and until when; tries so far.
    claimed_by = models.CharField(max_length=255, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The outbox: when a message for this job was last handed to the broker, and why that
    # failed ("" = it did not).
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep for stuck jobs reads only the few unfinished rows.
            models.Index(
                fields=["status"],
                condition=models.Q(status__in=["pending", "running"]),
                name="exportjob_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} {self.kind} {self.fmt} of {self.dataset_id} {self.status}"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.rows_done / self.rows_total))


# Defined in their own modules; imported here so Django registers them.
from review.models_consensus import ConsensusFit, SamplePosterior  # noqa: E402, F401
from review.models_desmap import DesMap, MapSelection, MapSelectionSample  # noqa: E402, F401
from review.models_queue import QueueCount, SampleLoad  # noqa: E402, F401
