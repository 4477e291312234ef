"""/api/exports/: exports as background jobs (review.services.export_jobs), the same jobs the
Export page starts and watches: start one (202), poll its progress, download its files (the
data, the label map, the datasheet), cancel it. Admins only, as the Export page."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.selectors.datasets import dataset_or_404
from review import policy
from review.api.export_serializers import ExportJobSerializer, ExportStartSerializer
from review.api.schema import DETAIL_SCHEMA, error_response
from review.api.views import TeamAPIView
from review.models import ExportJob
from review.selectors.export_jobs import (
    PART_CONTENT_TYPES,
    PARTS,
    export_job_file,
    export_job_for,
    recent_export_jobs,
)
from review.services.export_formats import FORMATS
from review.services.export_jobs import (
    ExportJobError,
    cancel_export_job,
    resend_export_job_if_stuck,
    start_export_job,
)

# Every media type a download may have (without parameters): the formats' and the parts'.
DOWNLOAD_TYPES = sorted(
    {
        t.split(";")[0]
        for t in [*(f.content_type for f in FORMATS.values()), *PART_CONTENT_TYPES.values()]
    }
)


class IsAdmin(BasePermission):
    message = "Only admins can export."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(policy.can_administer(user=request.user))


CONFLICT = error_response("The job is not in a state that allows this.", DETAIL_SCHEMA)


class ExportAPIView(TeamAPIView):
    permission_classes = [IsAdmin]

    def job(self, request: Request, pk: int) -> ExportJob:
        """The job (Http404 when there is none; PermissionDenied for non-admins: 404, 403)."""
        return export_job_for(job_id=pk, user=request.user)

    def job_data(self, request: Request, job: ExportJob) -> dict[str, Any]:
        return dict(ExportJobSerializer(job, context={"request": request}).data)


class ExportsView(ExportAPIView):
    pagination_class = None

    @extend_schema(responses=ExportJobSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The latest export jobs, newest first (every admin's: exports are shared work)."""
        jobs = recent_export_jobs(user=request.user)
        return Response(ExportJobSerializer(jobs, many=True, context={"request": request}).data)

    @extend_schema(request=ExportStartSerializer, responses={202: ExportJobSerializer})
    def post(self, request: Request) -> Response:
        """Start an export in the background; poll the job's `url` until `status` is done,
        then GET its `downloads`."""
        given = ExportStartSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            job = start_export_job(
                user=request.user,
                dataset=dataset_or_404(ref=str(data["dataset"])),
                kind=data["kind"],
                fmt=data["format"],
                scope=data["scope"],
                options=data["options"],
            )
        except ExportJobError as error:  # "field: why", the service's last word on options
            raise ValidationError([str(error)]) from error
        body = self.job_data(request, job)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ExportJobView(ExportAPIView):
    @extend_schema(responses=ExportJobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """The job: status, rows done of rows total, progress 0..1, download links once done."""
        job = self.job(request, pk)
        if job.active and resend_export_job_if_stuck(job_id=job.pk):
            # As the page's poll: a job a dead worker left (or the broker lost) is sent again.
            job.refresh_from_db()
        return Response(self.job_data(request, job))

    @extend_schema(responses={200: ExportJobSerializer, 409: CONFLICT})
    def delete(self, request: Request, pk: int) -> Response:
        """Cancel the job (as POST cancel/)."""
        return _cancel(self, request, pk)


class ExportCancelView(ExportAPIView):
    @extend_schema(request=None, responses={200: ExportJobSerializer, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        """Cancel a pending or running job; 409 when it has finished already."""
        return _cancel(self, request, pk)


def _cancel(view: ExportAPIView, request: Request, pk: int) -> Response:
    job = view.job(request, pk)
    if not cancel_export_job(job=job, user=request.user):
        detail = f"The export is {job.status} already: nothing to cancel."
        return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
    return Response(view.job_data(request, job))


class ExportDownloadView(ExportAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("part", str, enum=PARTS, description="default: data")],
        responses={
            **{
                (200, media): OpenApiResponse(OpenApiTypes.BINARY, description="the file")
                for media in DOWNLOAD_TYPES
            },
            409: CONFLICT,
        },
    )
    def get(self, request: Request, pk: int) -> Response | FileResponse:
        """One file of a finished job: the data (?part=data), the label map (labels) or the
        datasheet (datasheet); 409 while the job has not finished."""
        part = request.query_params.get("part", "data")
        if part not in PARTS:
            raise ValidationError({"part": f"Use one of {', '.join(PARTS)}."})
        job = self.job(request, pk)
        if job.status != ExportJob.Status.DONE:
            detail = f"The export is {job.status}, not done: nothing to download."
            return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
        file = export_job_file(job=job, part=part)  # Http404 when that part was not written
        kind = FORMATS[job.fmt].content_type if part == "data" else PART_CONTENT_TYPES[part]
        return FileResponse(
            file.open("rb"), as_attachment=True, filename=file.name, content_type=kind
        )


urlpatterns = [
    path("", ExportsView.as_view(), name="exports"),
    path("<int:pk>/", ExportJobView.as_view(), name="export"),
    path("<int:pk>/cancel/", ExportCancelView.as_view(), name="export_cancel"),
    path("<int:pk>/download/", ExportDownloadView.as_view(), name="export_download"),
]
