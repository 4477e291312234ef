"""API serializers: they parse and shape data; the services do the work."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework import serializers

from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample
from review.labels import LABEL_FIELDS, LABEL_FIELDS_NO_NOTES, TRIPLET_MAX_LENGTH, label_from
from review.limits import NOTES_MAX_LENGTH
from review.models import Adjudication, Annotation, Assignment, AuditEvent
from review.validators import ID_MAX, INT_MAX


class LabelInputSerializer(serializers.Serializer):
    """A label: an emotion of the dataset's taxonomy, confidence 0..10, an optional triplet."""

    emotion = serializers.CharField(max_length=64)
    confidence = serializers.FloatField(min_value=0, max_value=10)
    background = serializers.CharField(
        max_length=TRIPLET_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    attribute = serializers.CharField(
        max_length=TRIPLET_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    subject = serializers.CharField(
        max_length=TRIPLET_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    notes = serializers.CharField(
        max_length=NOTES_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        error_messages={"max_length": f"Notes are at most {NOTES_MAX_LENGTH} characters."},
    )
    time_spent_ms = serializers.IntegerField(
        min_value=0, max_value=INT_MAX, required=False, default=0
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The services' keywords: `label` (a review.labels.Label), time_spent_ms, and what a
        subclass adds (base_version)."""
        rest = {name: value for name, value in attrs.items() if name not in LABEL_FIELDS}
        return {"label": label_from(attrs), **rest}


class AnswerInputSerializer(LabelInputSerializer):
    base_version = serializers.IntegerField(
        min_value=0,
        max_value=INT_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="With overlap k = 1 the answer is the final label: the version it builds on.",
    )


class VotesInputSerializer(serializers.Serializer):
    votes = serializers.DictField(
        child=serializers.BooleanField(),
        help_text='Binary protocol: {"emotion": true|false} for every open question.',
    )


class AdjudicationInputSerializer(LabelInputSerializer):
    base_version = serializers.IntegerField(
        min_value=0,
        max_value=INT_MAX,
        help_text="The version you decided on top of (0 = none yet).",
    )


class UndoInputSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=INT_MAX,
        help_text="The version you saw and mean to undo (required): 409 when it is no longer "
        "the current one.",
    )


class NextInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Assignment.Kind.choices, required=False)
    dataset = serializers.IntegerField(
        min_value=1, max_value=ID_MAX, required=False, help_text="dataset id"
    )


class LabelVersionSerializer(serializers.ModelSerializer):
    annotator: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Adjudication
        fields = ["version", "method", "annotator", *LABEL_FIELDS, "reverted", "decided_at"]


class AnswerSerializer(serializers.ModelSerializer):
    annotator: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Annotation
        fields = ["annotator", *LABEL_FIELDS, "value_number", "source", "created_at"]


class LeaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "sample", "kind", "status", "leased_at", "expires_at"]


class QueueItemSerializer(serializers.ModelSerializer):
    dataset: serializers.SlugRelatedField[Dataset] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )

    class Meta:
        model = Sample
        fields = [
            "id",
            "external_id",
            "dataset",
            "source",
            "status",
            "suggested_emotion",
            "vote_margin",
            "human_check",
        ]


class ProposalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Proposal
        fields = ["model_name", "description", *LABEL_FIELDS_NO_NOTES]


class CriticSerializer(serializers.ModelSerializer):
    class Meta:
        model = CriticVerdict
        fields = ["model_name", "verdict", "emotion", "reasoning", "instructions", "created_at"]


class AccessSerializer(serializers.Serializer):
    answer = serializers.BooleanField()
    adjudicate = serializers.BooleanField()
    see_all = serializers.BooleanField()


class RleSerializer(serializers.Serializer):
    size = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        min_length=2,
        max_length=2,
        help_text="[height, width] of the image",
    )
    counts = serializers.CharField(
        help_text="COCO compressed RLE, as pycocotools.mask.encode makes it (bytes as ASCII)"
    )


class RegionSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Region.Role.choices)
    phrase = serializers.CharField(allow_blank=True)
    box = serializers.ListField(
        child=serializers.FloatField(),
        min_length=4,
        max_length=4,
        allow_null=True,
        help_text="[x1, y1, x2, y2] in image pixels (a person's mask: the bounds of the mask)",
    )
    mask = RleSerializer(allow_null=True)
    origin = serializers.ChoiceField(choices=Region.Origin.choices)
    model_name = serializers.CharField(allow_blank=True)
    segmenter = serializers.CharField(allow_blank=True)
    score = serializers.FloatField(allow_null=True)
    author = serializers.CharField(allow_null=True, help_text="a person's mask: whose it is")


class SampleDetailSerializer(QueueItemSerializer):
    """A sample as the person may see it: blind answers hide the final label and others'."""

    image_url = serializers.URLField(read_only=True, help_text="the image (token or session)")
    regions = RegionSerializer(many=True, read_only=True)
    proposals = ProposalSerializer(many=True, read_only=True)
    critic = CriticSerializer(read_only=True, allow_null=True)
    final_label = LabelVersionSerializer(read_only=True, allow_null=True)
    answers = AnswerSerializer(many=True, read_only=True)
    own_answer = AnswerSerializer(read_only=True, allow_null=True)
    open_questions = serializers.ListField(child=serializers.CharField(), read_only=True)
    access = AccessSerializer(read_only=True)

    class Meta(QueueItemSerializer.Meta):
        fields = [
            *QueueItemSerializer.Meta.fields,
            "image_path",
            "image_url",
            "width",
            "height",
            "content_hash",
            "regions",
            "dispute_reasons",
            "proposals",
            "critic",
            "final_label",
            "answers",
            "own_answer",
            "open_questions",
            "access",
        ]


class AnswerResultSerializer(serializers.Serializer):
    decided = serializers.BooleanField(help_text="This answer completed the final label.")


class AdjudicationStateSerializer(serializers.Serializer):
    current = LabelVersionSerializer(allow_null=True)
    versions = LabelVersionSerializer(many=True)


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    base_version = serializers.IntegerField()
    theirs = LabelVersionSerializer(allow_null=True)
    yours = LabelInputSerializer()


class AuditEventSerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "action", "before", "after"]


class HistorySerializer(serializers.Serializer):
    events = AuditEventSerializer(many=True)
    versions = LabelVersionSerializer(many=True)


StatusCountsSerializer = type(
    "StatusCountsSerializer",
    (serializers.Serializer,),
    {status: serializers.IntegerField(min_value=0) for status in Sample.Status.values},
)


class DatasetSerializer(serializers.Serializer):
    """A dataset with its samples per status (review.selectors.export.DatasetCounts)."""

    id = serializers.IntegerField(source="dataset.pk")
    name = serializers.CharField(source="dataset.name")
    taxonomy = serializers.CharField(source="dataset.taxonomy.name")
    labels = serializers.ListField(child=serializers.CharField(), source="dataset.taxonomy.labels")
    overlap_k = serializers.IntegerField(source="dataset.overlap_k")
    machine_blind = serializers.BooleanField(source="dataset.machine_blind")
    licence = serializers.CharField(source="dataset.licence", allow_blank=True)
    attribution = serializers.CharField(source="dataset.attribution", allow_blank=True)
    counts = StatusCountsSerializer(help_text="samples per status")
    total = serializers.IntegerField()
    decided = serializers.IntegerField(help_text="adjudicated and agreed: what an export takes")
    url = serializers.SerializerMethodField()
    samples_url = serializers.SerializerMethodField()

    def get_url(self, entry: Any) -> str:
        return self._absolute("api:dataset", entry)

    def get_samples_url(self, entry: Any) -> str:
        return self._absolute("api:dataset_samples", entry)

    def _absolute(self, name: str, entry: Any) -> str:
        path = reverse(name, args=[entry.dataset.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class SampleListItemSerializer(QueueItemSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta(QueueItemSerializer.Meta):
        fields = [*QueueItemSerializer.Meta.fields, "image_path", "width", "height",
                  "content_hash", "image_url"]  # fmt: skip

    def get_image_url(self, sample: Sample) -> str:
        return sample_image_url(sample.pk, self.context.get("request"))


def sample_image_url(pk: int, request: Any) -> str:
    """The API's image URL of a sample: absolute when the request is known."""
    path = reverse("api:sample_image", args=[pk])
    return request.build_absolute_uri(path) if request is not None else path
