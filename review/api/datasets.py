"""/api/datasets/: the datasets with their counts (their ids are what /api/queue/ and /api/next/
filter by), one dataset by id or name, its samples page by page; /api/samples/<id>/image/."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.models import Sample
from annotator.selectors.datasets import dataset_or_404
from review.api import serializers as s
from review.api.views import TeamAPIView
from review.selectors.api import (
    dataset_counts,
    dataset_samples,
    datasets_with_counts,
)
from review.selectors.images import viewable_sample_image


class DatasetListView(TeamAPIView):
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("name", str, description="only the dataset of this name")],
        responses=s.DatasetSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        """Every dataset with its samples per status (all of them: the list is short)."""
        entries = datasets_with_counts(name=request.query_params.get("name", ""))
        return Response(s.DatasetSerializer(entries, many=True, context={"request": request}).data)


REF = OpenApiParameter("ref", str, OpenApiParameter.PATH, description="dataset id or name")


class DatasetView(TeamAPIView):
    @extend_schema(parameters=[REF], responses=s.DatasetSerializer)
    def get(self, request: Request, ref: str) -> Response:
        """One dataset by id (all digits) or name."""
        entry = dataset_counts(dataset=dataset_or_404(ref=ref))
        return Response(s.DatasetSerializer(entry, context={"request": request}).data)


class SamplePages(CursorPagination):
    """Keyset pages by id: stable while samples are added, as fast on page 1,000 as on 1."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class DatasetSamplesView(TeamAPIView):
    pagination_class = SamplePages

    @extend_schema(
        parameters=[
            REF,
            OpenApiParameter("status", str, enum=Sample.Status.values, description="only these"),
        ],
        responses=s.SampleListItemSerializer(many=True),
    )
    def get(self, request: Request, ref: str) -> Response:
        """The dataset's samples by id, keyset-paged (follow `next`): all of them for
        adjudicators and auditors, the ones handed to you for annotators."""
        status = request.query_params.get("status", "")
        if status and status not in Sample.Status.values:
            raise ValidationError({"status": f"Use one of {', '.join(Sample.Status.values)}."})
        dataset = dataset_or_404(ref=ref)
        queryset = dataset_samples(dataset=dataset, user=request.user, status=status)
        paginator = SamplePages()
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        data = s.SampleListItemSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


class SampleImageView(TeamAPIView):
    @extend_schema(
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="the image file")
        }
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        """The sample's image file, to whoever may open the sample (as the sample page's)."""
        path = viewable_sample_image(user=request.user, pk=pk)
        response = FileResponse(path.open("rb"))
        response["Cache-Control"] = "private, max-age=3600"
        return response
