"""API serializers: they parse and shape data; the services do the work."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework import serializers

from annotator.models import CriticVerdict, Dataset, Proposal, Sample
from review.limits import NOTES_MAX_LENGTH
from review.models import Adjudication, Annotation, Assignment, AuditEvent
from review.validators import ID_MAX, INT_MAX

TRIPLET_MAX_LENGTH = 300


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
        fields = [
            "version",
            "method",
            "annotator",
            "emotion",
            "confidence",
            "background",
            "attribute",
            "subject",
            "notes",
            "reverted",
            "decided_at",
        ]


class AnswerSerializer(serializers.ModelSerializer):
    annotator: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Annotation
        fields = [
            "annotator",
            "emotion",
            "value_number",
            "confidence",
            "background",
            "attribute",
            "subject",
            "notes",
            "source",
            "created_at",
        ]


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
        fields = [
            "model_name",
            "description",
            "emotion",
            "confidence",
            "background",
            "attribute",
            "subject",
        ]


class CriticSerializer(serializers.ModelSerializer):
    class Meta:
        model = CriticVerdict
        fields = ["model_name", "verdict", "emotion", "reasoning", "instructions", "created_at"]


class AccessSerializer(serializers.Serializer):
    answer = serializers.BooleanField()
    adjudicate = serializers.BooleanField()
    see_all = serializers.BooleanField()


class SampleDetailSerializer(QueueItemSerializer):
    """A sample as the person may see it: blind answers hide the final label and others'."""

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
            "width",
            "height",
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
