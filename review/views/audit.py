"""The audit (auditors and admins): dashboard, one URL per table (?format=csv downloads it), and
the drill-down list of the samples behind any number."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from annotator.selectors.datasets import dataset_by_ref, dataset_names
from review import policy
from review.audit.anchoring import ANCHORING, anchoring_section, anchoring_table
from review.audit.sections import (
    dashboard_sections,
    drilldown_link,
    extra_sections,
    extra_table,
    table_url,
)
from review.audit.tables import Table, audit_table
from review.forms.fields import choice_field
from review.forms.filters import AuditFilterForm
from review.http import HtmxHttpRequest, short_error, wants_partial
from review.roles import AUDITOR, role_required
from review.selectors.anchoring import anchoring
from review.selectors.audit import (
    AuditFilters,
    audit_data,
    audit_figures,
    audit_fingerprint,
    dataset_sources,
)
from review.selectors.audit_drilldown import DrilldownError, drilldown, sample_facts
from review.services.export_rows import csv_value

PAGE_SIZE = 50
CSV_CHUNK = 2000


def _filters(request: HttpRequest) -> tuple[AuditFilterForm, AuditFilters | None, str]:
    """The filter form, the filters when a dataset is chosen (bad fields are dropped), and the
    data's fingerprint (one query per request, reused by every cache lookup)."""
    fingerprint = audit_fingerprint()
    names = dataset_names()
    data = request.GET.copy()
    if not data.get("dataset") and names:
        data["dataset"] = names[0]
    dataset = dataset_by_ref(ref=data.get("dataset", ""))
    if dataset is not None:  # ?dataset=2 as the queue and the map write it: the name from here
        data["dataset"] = dataset.name
    sources = dataset_sources(dataset=dataset, fingerprint=fingerprint) if dataset else []
    form = AuditFilterForm(data, datasets=names, sources=sources)
    form.is_valid()
    if dataset is None:
        return form, None, fingerprint
    cleaned = form.cleaned_data
    until = cleaned.get("until") if "until" not in form.errors else None
    filters = AuditFilters(
        dataset=dataset, source=cleaned.get("source", ""), since=cleaned.get("since"), until=until
    )
    return form, filters, fingerprint


def _dataset_filters(request: HttpRequest) -> tuple[AuditFilterForm, AuditFilters, str]:
    """As _filters, for the JSON, a table and a drill-down: a 404 when no dataset is chosen."""
    form, filters, fingerprint = _filters(request)
    if filters is None:
        raise Http404("No such dataset.")
    return form, filters, fingerprint


@require_GET
@role_required(AUDITOR)
def audit_view(request: HtmxHttpRequest) -> HttpResponse:
    form, filters, fingerprint = _filters(request)
    datasets_exist = bool(choice_field(form, "dataset").choices)
    if form.errors and datasets_exist:  # figures for other filters would mislead: none, 400
        return _bad_filters(request, form)
    context: dict[str, Any] = {"form": form, "filters": filters}
    if filters is not None:
        fresh = request.GET.get("fresh") == "1"
        figures = audit_figures(filters=filters, fingerprint=fingerprint, fresh=fresh)
        context |= {
            "figures": figures,
            "sections": dashboard_sections(figures=figures, filters=filters),
        }
        computed = figures.get("computed_at")
        context["computed_at"] = datetime.fromisoformat(computed) if computed else None
        context["json_url"] = reverse("review:audit_json") + "?" + urlencode(filters.query())
        url = table_url(ANCHORING, filters)
        context["anchoring"] = anchoring_section(filters=filters, url=url)
        context |= extra_sections(  # issue 14: binary protocol, consensus
            user=request.user, figures=figures, filters=filters, url=lambda s: table_url(s, filters)
        )
    template = "review/_audit_results.html" if wants_partial(request) else "review/audit.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _filter_errors(form: AuditFilterForm) -> str:
    return " ".join(
        f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
    )


def _bad_filters(request: HtmxHttpRequest, form: AuditFilterForm) -> HttpResponse:
    """The page with the form's errors and no figures; htmx gets the short text errors.js shows."""
    if request.htmx:
        return short_error(400, _filter_errors(form))
    context = {"form": form, "filters": None, "filter_errors": True}
    return render(request, "review/audit.html", context, status=400)


@require_GET
@role_required(AUDITOR)
def audit_json_view(request: HttpRequest) -> HttpResponse:
    """The figures as `manage.py agreement --json` prints them."""
    form, filters, fingerprint = _dataset_filters(request)
    if form.errors:
        return JsonResponse({"errors": form.errors}, status=400)
    figures = audit_figures(filters=filters, fingerprint=fingerprint)
    return JsonResponse({**figures, ANCHORING: anchoring(filters=filters).as_json()})


@require_GET
@role_required(AUDITOR)
def audit_table_view(request: HttpRequest, table: str) -> HttpResponseBase:
    """One table: an HTML fragment (what the dashboard embeds), or CSV with ?format=csv."""
    form, filters, fingerprint = _dataset_filters(request)
    if form.errors:
        return short_error(400, _filter_errors(form))
    figures = audit_figures(filters=filters, fingerprint=fingerprint)
    found = audit_table(table, figures=figures, link=drilldown_link(filters))
    if found is None and table == ANCHORING:  # not a cached figure: read when asked
        found = anchoring_table(anchoring(filters=filters))
    if found is None:
        found = extra_table(table, figures=figures, filters=filters)
    if found is None:
        raise Http404("No such table for this dataset.")
    if request.GET.get("format") == "csv":
        return _csv_response(f"{filters.dataset.name}-{table}.csv", _table_lines(found))
    context = {"table": found, "url": table_url(table, filters), "standalone": True}
    return render(request, "review/_audit_table.html", context)


def _table_lines(table: Table) -> Iterator[list[Any]]:
    yield table.columns
    for row in table.rows:
        yield ["" if cell.value is None else cell.value for cell in row]


def _csv_response(filename: str, lines: Iterable[list[Any]]) -> StreamingHttpResponse:
    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for i, line in enumerate(lines, start=1):
            # Imported text (external ids, sources) must not run as a spreadsheet formula.
            writer.writerow([csv_value(value) for value in line])
            if i % CSV_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@role_required(AUDITOR)
def audit_samples_view(request: HttpRequest) -> HttpResponseBase:
    """The samples behind one number, read-only; ?format=csv lists them all."""
    form, filters, fingerprint = _dataset_filters(request)
    if form.errors:
        return short_error(400, _filter_errors(form))
    data = audit_data(filters=filters, fingerprint=fingerprint)
    figure = request.GET.get("figure", "")
    dashboard_url = reverse("review:audit") + "?" + urlencode(filters.query())
    try:
        found = drilldown(data=data, figure=figure, params=request.GET.dict())
    except DrilldownError as exc:
        context = {"filters": filters, "error": str(exc), "dashboard_url": dashboard_url}
        return render(request, "review/audit_samples.html", context, status=400)
    ids = policy.without_blind_samples(user=request.user, sample_ids=found.sample_ids.tolist())
    if request.GET.get("format") == "csv":
        return _csv_response(
            f"{filters.dataset.name}-{figure}-samples.csv", _sample_lines(data, ids)
        )
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "drilldown": found,
        "page": page,
        "rows": sample_facts(data=data, sample_ids=list(page.object_list)),
        "models": data.models,
        "binary": data.binary,
        "dashboard_url": dashboard_url,
    }
    return render(request, "review/audit_samples.html", context)


def _sample_lines(data: Any, ids: list[int]) -> Iterator[list[Any]]:
    yield [
        "sample_id",
        "external_id",
        "source",
        "status",
        *data.models,
        "critic",
        "final",
        "ratings",
    ]
    for start in range(0, len(ids), CSV_CHUNK):
        for f in sample_facts(data=data, sample_ids=ids[start : start + CSV_CHUNK]):
            yield [f.pk, f.external_id, f.source, f.status, *f.models, f.critic, f.final, f.ratings]
