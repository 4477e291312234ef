"""The DES map page (auditors and admins, as the audit): a canvas of every sample's DES in 2-D.

The page is HTML; the points come from a binary endpoint (uint16 x, uint16 y, int32 ids, names:
review/services/des_map_store.py) and the colours from another (one uint8 code a point, named
by the legend partial). A box or lasso is POSTed as a polygon and becomes a selection the
queue filters by (?selection=<token>).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotator.models import Dataset
from annotator.selectors.datasets import dataset_by_id, dataset_or_404, first_dataset
from review import policy
from review.http import HtmxHttpRequest, short_error, wants_partial
from review.models_desmap import DesMap
from review.roles import AUDITOR, role_required
from review.selectors.des_map import COLOUR_BY, Colouring, cached_map_colouring, point_names
from review.services.des_map import ensure_des_map, missing_extra, request_des_map
from review.services.des_map_projection import DesMapError
from review.services.des_map_selection import (
    SelectionError,
    create_map_selection,
    parse_polygon,
)
from review.services.des_map_store import unpack_points, wire_bytes

BINARY = "application/octet-stream"


def _choice(request: HttpRequest, name: str, choices: list[str]) -> str:
    value = request.GET.get(name, "")
    return value if value in choices else choices[0]


def _dataset(value: str) -> Dataset | None:
    """The dataset ?dataset=<id> names (None when no dataset has it), else the first one."""
    if value.isdecimal():
        return dataset_by_id(dataset_id=int(value))
    return first_dataset()


def _done_map(pk: int) -> DesMap:
    return get_object_or_404(
        DesMap.objects.select_related("dataset__taxonomy"), pk=pk, status=DesMap.Status.DONE
    )


def _colouring(request: HttpRequest, des_map: DesMap, by: str) -> Colouring:
    hidden = policy.blind_sample_ids(user=request.user)
    ids = unpack_points(des_map.points).ids
    return cached_map_colouring(des_map=des_map, by=by, ids=ids, hidden=hidden)


@role_required(AUDITOR)
@require_GET
def des_map_view(request: HtmxHttpRequest) -> HttpResponse:
    dataset = _dataset(request.GET.get("dataset", ""))
    if dataset is None:
        raise Http404("No dataset yet: import one first.")
    method = _choice(request, "method", list(DesMap.Method.values))
    by = _choice(request, "by", list(COLOUR_BY))
    state = ensure_des_map(dataset=dataset, method=method, user=request.user)
    done = _done_map(state.done.pk) if state.done else None
    context = {
        "datasets": Dataset.objects.order_by("name"),
        "dataset": dataset,
        "method": method,
        # (value, label, what it needs installed): one the web process cannot compute is off.
        "methods": [(v, label, missing_extra(method=v)) for v, label in DesMap.Method.choices],
        "missing": missing_extra(method=method),
        "by": by,
        "colour_by": COLOUR_BY.items(),
        "state": state,
        "des_map": done,
        "colouring": _colouring(request, done, by) if done else None,
    }
    if wants_partial(request):  # the status poll: once the map is done, the page reloads
        response = render(request, "review/_des_map_status.html", context)
        if state.waiting is None:
            response["HX-Refresh"] = "true"
        return response
    return render(request, "review/des_map.html", context)


@role_required(AUDITOR)
@require_POST
def des_map_recompute_view(request: HttpRequest, dataset_id: int) -> HttpResponseBase:
    dataset = dataset_or_404(dataset_id=dataset_id)
    method = request.POST.get("method", DesMap.Method.PCA)
    try:
        request_des_map(dataset=dataset, method=method, user=request.user)
    except DesMapError as exc:
        return short_error(400, str(exc))
    return redirect(
        f"{reverse('review:des_map')}?{urlencode({'dataset': dataset.pk, 'method': method})}"
    )


@role_required(AUDITOR)
@require_GET
def des_map_points_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The map's points, 8 bytes each, and their names (the module docstring); a map never
    changes once done (nor do external ids)."""
    des_map = _done_map(pk)
    points = unpack_points(des_map.points)
    names = point_names(dataset_id=des_map.dataset_id, ids=points.ids)
    response = HttpResponse(wire_bytes(points, names), content_type=BINARY)
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@role_required(AUDITOR)
@require_GET
def des_map_codes_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One uint8 colour code a point, in the points' order (what people decide moves them)."""
    by = _choice(request, "by", list(COLOUR_BY))
    colouring = _colouring(request, _done_map(pk), by)
    response = HttpResponse(colouring.codes.tobytes(), content_type=BINARY)
    response["Cache-Control"] = "private, no-cache"
    return response


@role_required(AUDITOR)
@require_GET
def des_map_legend_view(request: HttpRequest, pk: int) -> HttpResponse:
    des_map = _done_map(pk)
    by = _choice(request, "by", list(COLOUR_BY))
    context = {"des_map": des_map, "by": by, "colouring": _colouring(request, des_map, by)}
    return render(request, "review/_des_map_legend.html", context)


@role_required(AUDITOR)
@require_POST
def des_map_select_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A box or lasso ("x,y x,y ..." in the sent coordinates) -> the queue of those samples."""
    des_map = _done_map(pk)
    try:
        polygon = parse_polygon(request.POST.get("polygon", ""))
    except SelectionError as exc:
        return short_error(400, str(exc))
    selection = create_map_selection(des_map=des_map, polygon=polygon, user=request.user)
    query = {"dataset": des_map.dataset_id, "status": "", "selection": selection.token}
    return redirect(f"{reverse('review:queue')}?{urlencode(query)}")
