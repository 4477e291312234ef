"""Click-to-refine masks on the sample page: clicks, polling, undo/redo, candidates, accept.

Every action is a POST that works as a plain form (it redirects back to the sample page) and
through htmx (it answers the element's state partial, review/_mask_state.html). A click's
response waits for the worker up to MASK_WAIT_SECONDS (woken through Redis the moment the mask
is stored), so most clicks need one round trip; a slower one answers "pending" and the partial
polls, each poll waiting the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotator.models import Sample
from review import policy
from review.forms.answers import MaskEditForm
from review.http import HtmxHttpRequest, wants_partial
from review.pages.mask_overlays import mask_png, state_overlays
from review.pages.masks import mask_author_id
from review.selectors.masks import (
    ROLES,
    edit_progress,
    mask_state,
)
from review.services import masks as mask_services
from review.services.mask_dispatch import resend_mask_edit_if_stuck
from review.services.mask_wakeup import wait_for_mask_edit
from review.services.masks import MaskConflict, check_role


def _sample(pk: int) -> Sample:
    return get_object_or_404(Sample.objects.select_related("dataset").defer("des"), pk=pk)


def _readable_sample(request: HttpRequest, pk: int) -> tuple[Sample, bool]:
    """(the sample, whether this person may edit its masks) for whoever may see the sample
    page (review.policy); 403 for anyone else."""
    sample = _sample(pk)
    access = policy.sample_access(user=request.user, sample=sample)
    policy.require(policy.can_read_masks(access=access))
    return sample, access.edit_masks


def _error(message: str, status: int) -> HttpResponse:
    # Plain text: masks.js shows it in the panel; a no-JS browser shows it as the page.
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _message(error: ValidationError) -> str:
    return "; ".join(error.messages)


def _state_response(
    request: HtmxHttpRequest, *, sample: Sample, role: str, can_edit: bool
) -> HttpResponse:
    """The element's state partial (htmx) or a redirect to the sample page."""
    if not wants_partial(request):
        url = reverse("review:sample", args=[sample.pk])
        return HttpResponseRedirect(f"{url}#mask-{role}")
    author_id = mask_author_id(request, can_edit=can_edit)
    state = mask_state(sample=sample, role=role, author_id=author_id)
    context = {
        "sample": sample,
        "state": state,
        "overlays": state_overlays(state),
        "can_edit": can_edit,
    }
    response = render(request, "review/_mask_state.html", context)
    # The element's panel as it is when the answer arrives: a poll may have replaced the one
    # the request came from meanwhile.
    response["HX-Retarget"] = f"#mask-state-{role}"
    response["HX-Reswap"] = "outerHTML"
    return response


def _mask_action(
    action: Callable[[HtmxHttpRequest, Sample, str], None],
) -> Callable[..., HttpResponse]:
    """Parse the sample and element, run `action`, map refusals to 4xx, answer the state."""

    @login_required
    @require_POST
    def view(request: HtmxHttpRequest, pk: int, role: str) -> HttpResponse:
        sample = _sample(pk)
        try:
            check_role(role)
            action(request, sample, role)
        except PermissionDenied as denied:
            return _error(str(denied) or "You cannot edit this sample's masks.", 403)
        except MaskConflict as conflict:
            return _error(_message(conflict), 409)
        except ValidationError as invalid:
            return _error(_message(invalid), 400)
        # Every action checked that this person may edit the sample's masks.
        return _state_response(request, sample=sample, role=role, can_edit=True)

    view.__name__ = view.__qualname__ = f"{action.__name__}_view"
    view.__doc__ = action.__doc__
    return view


def _add_edit(request: HtmxHttpRequest, sample: Sample, role: str) -> None:
    """Save a click or box, then wait (briefly) for the worker's mask."""
    form = MaskEditForm(request.POST)
    if not form.is_valid():
        raise ValidationError(
            [
                " ".join(map(str, errors))
                if name == "__all__"
                else f"{name}: {' '.join(map(str, errors))}"
                for name, errors in form.errors.items()
            ]
        )
    edit = mask_services.add_mask_edits(
        sample=sample,
        role=role,
        author=request.user,
        clicks=form.click_list(),
        box=form.box(),
        reset=form.cleaned_data["reset"],
    )
    wait_for_mask_edit(edit_id=edit.pk, timeout=settings.MASK_WAIT_SECONDS)


def _undo(request: HtmxHttpRequest, sample: Sample, role: str) -> None:
    mask_services.undo_mask_edit(sample=sample, role=role, user=request.user)


def _redo(request: HtmxHttpRequest, sample: Sample, role: str) -> None:
    mask_services.redo_mask_edit(sample=sample, role=role, user=request.user)


def _choose(request: HtmxHttpRequest, sample: Sample, role: str) -> None:
    raw = request.POST.get("candidate", "")
    if not raw.isdecimal():
        raise ValidationError(f"candidate must be a number, got {raw!r}")
    mask_services.choose_mask_candidate(sample=sample, role=role, user=request.user, index=int(raw))


def _accept(request: HtmxHttpRequest, sample: Sample, role: str) -> None:
    mask_services.accept_mask(sample=sample, role=role, user=request.user)


mask_edit_view = _mask_action(_add_edit)
mask_undo_view = _mask_action(_undo)
mask_redo_view = _mask_action(_redo)
mask_choose_view = _mask_action(_choose)
mask_accept_view = _mask_action(_accept)


@login_required
@require_GET
def mask_poll_view(request: HtmxHttpRequest, pk: int, role: str) -> HttpResponse:
    """Wait for edit ?edit= to finish; answer a tiny progress fragment while it has not.

    One indexed query before waiting and one after; the wait itself is a Redis BLPOP. When the
    edit is finished the whole state replaces the panel (HX-Retarget). An unfinished edit the
    broker never took, or whose worker died, is sent again first (one UPDATE when it is not).
    """
    if role not in ROLES or not request.GET.get("edit", "").isdecimal():
        return _error("poll needs a known element and ?edit=<id>", 400)
    sample, can_edit = _readable_sample(request, pk)
    edit_id = int(request.GET["edit"])
    progress = edit_progress(edit_id=edit_id)
    if progress is not None and progress[0] in ("pending", "running"):
        resend_mask_edit_if_stuck(edit_id=edit_id)
        wait_for_mask_edit(edit_id=edit_id, timeout=settings.MASK_WAIT_SECONDS)
        progress = edit_progress(edit_id=edit_id)
    if progress is None or progress[0] not in ("pending", "running"):
        return _state_response(request, sample=sample, role=role, can_edit=can_edit)
    context = {"sample": sample, "role": role, "edit_id": edit_id, "progress": progress[1]}
    return render(request, "review/_mask_progress.html", context)


@login_required
@require_GET
def mask_png_view(request: HttpRequest, pk: int, role: str) -> HttpResponse:
    """The element's shown mask as a PNG (1 bit, transparent background): for browsers
    without JavaScript, which cannot draw the RLE themselves."""
    if role not in ROLES:
        raise Http404("unknown element")
    sample, can_edit = _readable_sample(request, pk)
    author_id = mask_author_id(request, can_edit=can_edit)
    state = mask_state(sample=sample, role=role, author_id=author_id)
    if not state.masks:
        raise Http404("this element has no mask")
    png = mask_png(state.masks, role=role, max_side=None)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, no-cache"
    return response
