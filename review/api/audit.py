"""/api/audit/: the audit's figures, tables and drill-downs for auditors (and admins).

The same selectors as the dashboard and `manage.py agreement --json`, so the numbers agree.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.selectors.datasets import dataset_or_404
from review import policy
from review.api.views import TeamAPIView, roles_permission
from review.audit.tables import BUILDERS, audit_table
from review.roles import AUDITOR
from review.selectors.audit import AuditFilters, audit_data, audit_figures
from review.selectors.audit_drilldown import FIGURES, DrilldownError, drilldown, sample_facts
from review.validators import FIRST_DAY, LAST_DAY


def _date(request: Request, name: str) -> date | None:
    value = request.query_params.get(name, "")
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError({name: f"{value!r} is not a date (YYYY-MM-DD)."}) from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        # The day after 9999-12-31, or 0001-01-01 in a time zone west of UTC, is no datetime.
        raise ValidationError({name: f"Use a date from {FIRST_DAY} to {LAST_DAY}."})
    return day


FILTER_PARAMS = [
    OpenApiParameter("dataset", str, required=True, description="dataset name"),
    OpenApiParameter("source", str, description="only samples from this source"),
    OpenApiParameter("since", OpenApiTypes.DATE, description="rows from this date"),
    OpenApiParameter("until", OpenApiTypes.DATE, description="rows up to this date, inclusive"),
    OpenApiParameter("fresh", int, description="1: never figures made from older data"),
]


class AuditAPIView(TeamAPIView):
    permission_classes = [roles_permission(AUDITOR)]

    def filters(self, request: Request) -> AuditFilters:
        name = request.query_params.get("dataset", "")
        if not name:
            raise ValidationError({"dataset": "This parameter is required."})
        since, until = _date(request, "since"), _date(request, "until")
        if since and until and since > until:
            raise ValidationError({"until": "The end date is before the start date."})
        dataset = dataset_or_404(name=name)
        source = request.query_params.get("source", "")
        return AuditFilters(dataset=dataset, source=source, since=since, until=until)


class AuditFiguresView(AuditAPIView):
    @extend_schema(parameters=FILTER_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Every dashboard figure, exactly as `manage.py agreement --json` prints it."""
        fresh = request.query_params.get("fresh") == "1"
        return Response(audit_figures(filters=self.filters(request), fresh=fresh))


class AuditTableView(AuditAPIView):
    @extend_schema(parameters=FILTER_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, table: str) -> Response:
        """One dashboard table: {"title", "columns", "rows"} with raw values (the CSV's)."""
        filters = self.filters(request)
        found = audit_table(table, figures=audit_figures(filters=filters), link=_api_link)
        if found is None:
            raise NotFound(f"No table {table!r} for this dataset; tables: {', '.join(BUILDERS)}.")
        rows = [[cell.value for cell in row] for row in found.rows]
        return Response({"title": found.title, "columns": found.columns, "rows": rows})


def _api_link(figure: str, **params: str) -> str:
    return ""  # the API returns values; drill-downs are /api/audit/samples/?figure=...


class AuditSamplesView(AuditAPIView):
    @extend_schema(
        parameters=[
            *FILTER_PARAMS,
            OpenApiParameter(
                "figure", str, required=True, description=f"one of {', '.join(FIGURES)}"
            ),
            OpenApiParameter("page", int),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        """The samples behind a number (figure-specific parameters as on the dashboard's links)."""
        filters = self.filters(request)
        data = audit_data(filters=filters)
        try:
            found = drilldown(
                data=data,
                figure=request.query_params.get("figure", ""),
                params=request.query_params.dict(),
            )
        except DrilldownError as exc:
            raise ValidationError({"figure": str(exc)}) from exc
        paginator = PageNumberPagination()
        # Not the samples this person answers blind: each row shows its final label.
        ids = policy.without_blind_samples(user=request.user, sample_ids=found.sample_ids.tolist())
        page: list[int] = paginator.paginate_queryset(ids, request, view=self) or []
        facts = sample_facts(data=data, sample_ids=page)
        response = paginator.get_paginated_response([_fact(f, data.models) for f in facts])
        response.data["title"] = found.title
        return response


def _fact(f: Any, models: list[str]) -> dict[str, Any]:
    return {
        "id": f.pk,
        "external_id": f.external_id,
        "url": reverse("review:sample", args=[f.pk]),
        "source": f.source,
        "status": f.status,
        "models": dict(zip(models, f.models, strict=True)),
        "critic": f.critic,
        "final": f.final,
        "ratings": f.ratings,
    }


urlpatterns = [
    path("", AuditFiguresView.as_view(), name="audit"),
    path("tables/<slug:table>/", AuditTableView.as_view(), name="audit_table"),
    path("samples/", AuditSamplesView.as_view(), name="audit_samples"),
]
