"""API views: parse, check permissions (the same rules as the web pages), call a service."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.models import Sample
from annotator.selectors.datasets import dataset_by_id, dataset_or_404
from review import policy
from review.api import serializers as s
from review.api.schema import ErrorsAutoSchema
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, user_roles
from review.selectors.api import visible_regions
from review.selectors.assignment import user_assignments
from review.selectors.queue import DISPUTED, NEEDS_ADJUDICATION, queue_samples
from review.selectors.samples import (
    adjudication_versions,
    current_adjudication,
    latest_critic_verdict,
    own_answer,
    sample_answers,
)
from review.services.adjudication import VersionConflict, adjudicate_sample, undo_last_decision
from review.services.assignment import lease_next_sample, skip_assignment
from review.services.binary import binary_protocol, open_questions, submit_binary_votes
from review.services.blind_answers import submit_final_answer


def roles_permission(*roles: str) -> type[BasePermission]:
    """A DRF permission: the user holds one of `roles` (review.roles, as the web pages)."""

    class HasRole(BasePermission):
        message = f"This needs the role: {' or '.join(roles)}."

        def has_permission(self, request: Any, view: Any) -> bool:
            return bool(user_roles(request.user) & set(roles))

    return HasRole


class TeamAPIView(APIView):
    # Token first: an anonymous request is answered 401 with WWW-Authenticate: Token.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [roles_permission(ANNOTATOR, ADJUDICATOR, AUDITOR)]
    schema = ErrorsAutoSchema()

    def handle_exception(self, exc: Exception) -> Response:
        """What the services raise, answered once for every endpoint: a stale version 409
        with theirs and yours, a refused input 400 keyed by field (PermissionDenied: DRF's
        own handler gives 403 with the reason)."""
        if isinstance(exc, VersionConflict):
            return conflict_response(exc)
        if isinstance(exc, DjangoValidationError):
            exc = _as_drf(exc)
        return super().handle_exception(exc)


def conflict_response(conflict: VersionConflict) -> Response:
    data = s.ConflictSerializer(
        {
            "detail": str(conflict),
            "base_version": conflict.base_version,
            "theirs": conflict.theirs,
            "yours": conflict.yours.as_dict(),
        }
    ).data
    return Response(data, status=status.HTTP_409_CONFLICT)


def _as_drf(error: DjangoValidationError) -> ValidationError:
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)


QUEUE_PARAMS = [
    OpenApiParameter("dataset", int, description="dataset id"),
    OpenApiParameter(
        "status",
        str,
        description=f"a sample status, {NEEDS_ADJUDICATION}, or empty for any "
        f"(default {DISPUTED}); adjudicators and auditors only",
    ),
    OpenApiParameter("source", str),
    OpenApiParameter("suggested", str, description="suggested emotion"),
    OpenApiParameter("page", int),
]


class QueueView(TeamAPIView):
    """Adjudicators and auditors: the filtered queue. Annotators: what was handed to them."""

    pagination_class = PageNumberPagination  # the schema then says {count, next, results}

    @extend_schema(parameters=QUEUE_PARAMS, responses=s.QueueItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        if policy.sees_whole_queue(user=request.user):
            params = request.query_params
            dataset_id = params.get("dataset", "")
            queryset = queue_samples(
                dataset=dataset_by_id(dataset_id=int(dataset_id))
                if dataset_id.isdecimal()
                else None,
                status=params.get("status", DISPUTED),
                source=params.get("source", ""),
                suggested=params.get("suggested", ""),
            )
        else:
            mine = user_assignments(user=request.user).values("sample_id")
            queryset = Sample.objects.filter(pk__in=mine).select_related("dataset").defer("des")
            queryset = queryset.order_by("-id")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(s.QueueItemSerializer(page, many=True).data)


class NextView(TeamAPIView):
    permission_classes = [roles_permission(ANNOTATOR, ADJUDICATOR)]

    @extend_schema(
        request=s.NextInputSerializer,
        responses={
            200: s.LeaseSerializer,
            204: OpenApiResponse(description="Queue done: nothing left for you."),
        },
    )
    def post(self, request: Request) -> Response:
        """Lease the next sample (your running lease first); released on skip or timeout."""
        given = s.NextInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        kind = policy.work_kind(user=request.user, asked=given.validated_data.get("kind", ""))
        dataset_id = given.validated_data.get("dataset")
        dataset = dataset_or_404(dataset_id=dataset_id) if dataset_id is not None else None
        assignment = lease_next_sample(user=request.user, kind=kind, dataset=dataset)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.LeaseSerializer(assignment).data)


class SampleView(TeamAPIView):
    @extend_schema(responses=s.SampleDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """The sample as you may see it (answering blind hides others' answers and the label)."""
        sample, access = policy.viewable_sample(user=request.user, pk=pk)
        blind = access.blind
        # A machine-blind dataset hides the machines' evidence until the person commits.
        hidden = access.machines_hidden
        protocol = binary_protocol(dataset=sample.dataset)
        data: dict[str, Any] = {
            **{f: getattr(sample, f) for f in s.QueueItemSerializer.Meta.fields},
            "dataset": sample.dataset,
            "image_path": sample.image_path,
            "image_url": s.sample_image_url(sample.pk, request),
            "width": sample.width,
            "height": sample.height,
            "content_hash": sample.content_hash,
            # Boxes and masks as the sample page shows them to this person.
            "regions": visible_regions(sample=sample, access=access, user=request.user),
            "dispute_reasons": [] if hidden else sample.dispute_reasons,
            "proposals": [] if hidden else list(sample.proposals.all()),
            "critic": None if hidden else latest_critic_verdict(sample=sample),
            "final_label": current_adjudication(sample=sample) if access.see_final else None,
            "answers": sample_answers(sample=sample) if access.see_all and not blind else [],
            "own_answer": own_answer(sample=sample, user=request.user),
            "open_questions": open_questions(sample=sample, protocol=protocol, user=request.user)
            if protocol and access.answer
            else [],
            "access": access,
        }
        return Response(s.SampleDetailSerializer(data).data)


class AnswerView(TeamAPIView):
    permission_classes = [roles_permission(ANNOTATOR)]

    @extend_schema(
        request=s.AnswerInputSerializer,
        responses={201: s.AnswerResultSerializer, 409: s.ConflictSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Your blind answer under your lease (with k = 1 it is the final label)."""
        sample, access = policy.viewable_sample(user=request.user, pk=pk)
        if not access.answer:
            raise PermissionDenied("You hold no lease on this sample: ask /api/next/ first.")
        if binary_protocol(dataset=sample.dataset):
            raise ValidationError("This dataset asks yes/no questions: POST them to votes/.")
        given = s.AnswerInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        outcome = submit_final_answer(sample=sample, annotator=request.user, **given.validated_data)
        return Response({"decided": outcome.decision is not None}, status=status.HTTP_201_CREATED)


class VotesView(TeamAPIView):
    permission_classes = [roles_permission(ANNOTATOR)]

    @extend_schema(request=s.VotesInputSerializer, responses={201: s.AnswerResultSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Binary protocol: yes/no for every question open for you on this sample."""
        sample, access = policy.viewable_sample(user=request.user, pk=pk)
        if not access.answer:
            raise PermissionDenied("You hold no lease on this sample: ask /api/next/ first.")
        given = s.VotesInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        decided = submit_binary_votes(
            sample=sample, annotator=request.user, answers=given.validated_data["votes"]
        )
        return Response({"decided": decided is not None}, status=status.HTTP_201_CREATED)


class SkipView(TeamAPIView):
    permission_classes = [roles_permission(ANNOTATOR)]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, pk: int) -> Response:
        """Give your lease back; others may take the sample, you are not offered it again."""
        sample, _ = policy.viewable_sample(user=request.user, pk=pk)
        try:
            skip_assignment(sample=sample, user=request.user)
        except DjangoValidationError as error:
            raise PermissionDenied(" ".join(error.messages)) from error
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdjudicationView(TeamAPIView):
    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [roles_permission(ADJUDICATOR)()]
        return [roles_permission(ADJUDICATOR, AUDITOR)()]

    @extend_schema(responses=s.AdjudicationStateSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """The final label and every version of it."""
        sample, access = policy.viewable_sample(user=request.user, pk=pk)
        policy.require(policy.can_see_final_label(access=access))
        data = {
            "current": current_adjudication(sample=sample),
            "versions": adjudication_versions(sample=sample),
        }
        return Response(s.AdjudicationStateSerializer(data).data)

    @extend_schema(
        request=s.AdjudicationInputSerializer,
        responses={201: s.LabelVersionSerializer, 409: s.ConflictSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Save version base_version + 1; 409 with their version when it changed meanwhile."""
        sample, access = policy.viewable_sample(user=request.user, pk=pk)
        policy.require(policy.can_adjudicate(access=access))
        given = s.AdjudicationInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        decision = adjudicate_sample(sample=sample, annotator=request.user, **given.validated_data)
        return Response(s.LabelVersionSerializer(decision).data, status=status.HTTP_201_CREATED)


class UndoView(TeamAPIView):
    permission_classes = [roles_permission(ANNOTATOR, ADJUDICATOR)]

    @extend_schema(
        request=s.UndoInputSerializer,
        responses={200: s.AdjudicationStateSerializer, 409: s.ConflictSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Undo the current decision (its author or an admin), naming the version you saw: the
        previous version returns; 409 when yours is no longer current, 400 without one."""
        sample, access = policy.viewable_sample(user=request.user, pk=pk)
        # As on the web: an annotator's undo would leave an answered sample without a label,
        # for an adjudicator; they change their answer instead.
        policy.require(policy.can_adjudicate(access=access))
        given = s.UndoInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        version = given.validated_data["version"]
        undo_last_decision(sample=sample, actor=request.user, version=version)
        data = {
            "current": current_adjudication(sample=sample),
            "versions": adjudication_versions(sample=sample),
        }
        return Response(s.AdjudicationStateSerializer(data).data)


class HistoryView(TeamAPIView):
    permission_classes = [roles_permission(ADJUDICATOR, AUDITOR)]

    @extend_schema(responses=s.HistorySerializer)
    def get(self, request: Request, pk: int) -> Response:
        """Every audit event of the sample (who, when, before, after) and every label version;
        while you answer it blind, only your own lease events and no versions."""
        sample, access = policy.viewable_sample(user=request.user, pk=pk)
        shown = policy.visible_history(user=request.user, sample=sample, access=access)
        policy.require(shown.decision)
        data = {"events": shown.events, "versions": shown.versions}
        return Response(s.HistorySerializer(data).data)
