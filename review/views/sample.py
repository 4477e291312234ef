"""The sample page and what is done on it: answer (annotators, blind), adjudicate, skip.

What the page shows depends on the person (review.policy.sample_access):
an annotator holding a lease answers blind (no one else's answers, no final label); an
adjudicator sees every answer, the models' proposals and the critic's reasoning and decides;
an auditor sees everything and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from annotator.models import Sample
from review import policy
from review.forms.answers import AdjudicationForm, BinaryVoteForm
from review.http import HtmxHttpRequest, wants_partial
from review.labels import LABEL_FIELDS, label_rows
from review.models import Assignment
from review.pages.blind import HIDDEN_EVIDENCE, blind_page_context
from review.pages.label_form import label_form, others_notes
from review.pages.mask_overlays import people_mask_thumbnails
from review.pages.masks import mask_page_context
from review.pages.own_work import (
    change_answer_form,
    own_answer_context,
    own_work_context,
)
from review.pages.posterior import posterior_context
from review.policy import SampleAccess, sample_access
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, role_required
from review.selectors.blind_answers import blind_state
from review.selectors.images import viewable_sample_image
from review.selectors.masks import people_masks
from review.selectors.queue import next_sample_after, previous_sample_before
from review.selectors.samples import (
    box_legend,
    current_adjudication,
    describe_dispute_reasons,
    draft_for,
    latest_critic_verdict,
    model_weight,
    next_label_version,
    proposal_comparison,
    region_boxes,
    sample_answers,
    sample_for_review,
)
from review.services.adjudication import VersionConflict, adjudicate_sample
from review.services.assignment import skip_assignment
from review.services.binary import binary_protocol, open_questions, submit_binary_votes
from review.services.blind_answers import submit_final_answer
from review.services.masks import schedule_mask_work
from review.views.queue import redirect_to_next

KEYED_EMOTIONS = 9  # digits 1-9 pick an emotion; labels past the ninth are clicked
ANY_ROLE = (ANNOTATOR, ADJUDICATOR, AUDITOR)

MODE_ANSWER = "answer"  # an annotator's blind answer
MODE_BINARY = "binary"  # an annotator's yes/no votes
MODE_ADJUDICATE = "adjudicate"
MODE_READ = "read"
MODE_CHANGE = "change"  # an annotator changing their own answer (its label is not final)


def page_mode(*, access: SampleAccess, sample: Sample) -> str:
    if access.answer:
        return MODE_BINARY if binary_protocol(dataset=sample.dataset) else MODE_ANSWER
    if access.change and not access.adjudicate:
        return MODE_CHANGE
    if access.adjudicate:
        return MODE_ADJUDICATE
    return MODE_READ


def page_context(
    request: HttpRequest, *, sample: Sample, access: SampleAccess, form: Any = None
) -> dict[str, Any]:
    mode = page_mode(access=access, sample=sample)
    blind = mode in (MODE_ANSWER, MODE_BINARY, MODE_CHANGE)
    # Blind answers never show the final label; a person deciding directly (k = 1) still
    # starts from its version.
    current = current_adjudication(sample=sample) if mode != MODE_BINARY else None
    decision = current if access.see_final and not blind else None
    draft = draft_for(sample=sample, user=request.user) if mode != MODE_READ else None
    context: dict[str, Any] = {
        **_evidence(sample),
        **mask_page_context(request, sample=sample, access=access),
        "mode": mode,
        "access": access,
        "decision": decision,
        "can_undo": bool(policy.can_undo(access=access, user=request.user, adjudication=decision)),
        "answers": sample_answers(sample=sample) if access.see_all and not blind else [],
        # Blind answers see only their own masks (in the mask panel); the others compare all.
        "people_masks": (
            people_mask_thumbnails(people_masks(sample=sample))
            if access.see_all and not blind
            else []
        ),
        **own_answer_context(access=access, read_only=mode == MODE_READ, current=current),
        "draft": draft,
        "restored": True,  # a draft on a freshly opened page came from an earlier visit
        "keyed_emotions": KEYED_EMOTIONS,
        # The last digit that picks an emotion (8 for Mikels 8), for the key hints.
        "last_emotion_key": min(len(sample.dataset.taxonomy.labels), KEYED_EMOTIONS),
    }
    if access.see_all and not blind:
        # J/K walk the samples sharing this one's status, without wrapping around.
        context["next_sample"] = next_sample_after(sample=sample, status=sample.status, wrap=False)
        context["previous_sample"] = previous_sample_before(sample=sample, status=sample.status)
    else:
        # Annotators: "7 of 40 · 12 today", J/K through the samples handed to them.
        context.update(own_work_context(request, sample=sample))
    if mode == MODE_BINARY:
        protocol = binary_protocol(dataset=sample.dataset)
        assert protocol is not None
        questions = open_questions(sample=sample, protocol=protocol, user=request.user)
        context["form"] = form or BinaryVoteForm(questions=questions)
    elif mode in (MODE_ANSWER, MODE_ADJUDICATE):
        context["form"] = form or label_form(
            sample=sample,
            adjudicating=mode == MODE_ADJUDICATE,
            current=current,
            draft=draft,
            user=request.user,
        )
        context["form_action"] = "review:answer" if mode == MODE_ANSWER else "review:adjudicate"
        if mode == MODE_ADJUDICATE:
            context["next_version"] = next_label_version(sample=sample)
            context["current_notes"] = others_notes(current=current, user=request.user)
    elif mode == MODE_CHANGE:
        context["form"] = form or change_answer_form(
            sample=sample, own=context["own_answer"], current=current, draft=draft
        )
        context["form_action"] = "review:change_answer"
    to_machines = blind_state(sample=sample, user=request.user, answering=mode == MODE_ANSWER)
    if to_machines.applies:  # Dataset.machine_blind: machines hidden until a first answer
        context |= blind_page_context(sample=sample, state=to_machines, context=context)
    elif access.machines_hidden:  # skipped without answering: still blind to the machines
        context |= HIDDEN_EVIDENCE
    return context | posterior_context(sample=sample, access=access, context=context)


def _evidence(sample: Sample) -> dict[str, Any]:
    """What the machines said: image boxes, proposals side by side, the vote and the critic."""
    proposals = list(sample.proposals.all())
    boxes = region_boxes(
        regions=list(sample.regions.all()), width=sample.width or 1, height=sample.height or 1
    )
    legend = box_legend(boxes=boxes)
    return {
        "sample": sample,
        "dataset": sample.dataset,
        "models": [
            (p.model_name, model_weight(sample=sample, model_name=p.model_name)) for p in proposals
        ],
        "comparison": proposal_comparison(proposals=proposals),
        "boxes": boxes,
        "legend": legend,
        "verdict": latest_critic_verdict(sample=sample),
        "reasons": describe_dispute_reasons(reasons=sample.dispute_reasons or []),
    }


@role_required(*ANY_ROLE)
@require_GET
def sample_view(request: HttpRequest, pk: int) -> HttpResponse:
    sample, access = policy.viewable_sample(user=request.user, pk=pk)
    if access.edit_masks:
        # Prefetch this and the next samples' embeddings, mask its bare boxes (gpu queue).
        schedule_mask_work(user=request.user, sample=sample)
    return render(
        request, "review/sample.html", page_context(request, sample=sample, access=access)
    )


@role_required(*ANY_ROLE)
@require_GET
def image_view(request: HttpRequest, pk: int) -> FileResponse:
    """Stream the sample's image from its dataset's images_root; 404 if absent or outside it."""
    path = viewable_sample_image(user=request.user, pk=pk)
    response = FileResponse(path.open("rb"))
    response["Cache-Control"] = "private, max-age=3600"
    return response


@role_required(ANNOTATOR)
@require_POST
def answer_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """An annotator's answer under their lease; then their next lease (or the queue)."""
    sample, access = policy.viewable_sample_to_answer(user=request.user, pk=pk)
    if not access.answer:
        saved = access.own
        if saved is not None:  # answered meanwhile, in another tab or window
            return answered_response(request, sample=sample, saved=saved, access=access)
        raise PermissionDenied("You hold no lease on this sample: open it with “Next”.")
    if binary_protocol(dataset=sample.dataset):
        return _binary_answer(request, sample=sample, access=access)
    return save_label_response(
        request,
        sample=sample,
        access=access,
        save=submit_final_answer,  # submit_answer; keeps a blind dataset's first answer too
        action="review:answer",
        kind=Assignment.Kind.ANNOTATE,
        default_version=None,
    )


def _binary_answer(
    request: HtmxHttpRequest, *, sample: Sample, access: SampleAccess
) -> HttpResponse:
    protocol = binary_protocol(dataset=sample.dataset)
    assert protocol is not None
    questions = open_questions(sample=sample, protocol=protocol, user=request.user)
    form = BinaryVoteForm(request.POST, questions=questions)
    if form.is_valid():
        try:
            submit_binary_votes(sample=sample, annotator=request.user, answers=form.answers())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved your answers for {sample.external_id}.")
            return redirect_to_next(
                request, kind=Assignment.Kind.ANNOTATE, dataset=sample.dataset, htmx=True
            )
    return invalid_response(request, sample=sample, access=access, form=form)


@role_required(ADJUDICATOR)
@require_POST
def adjudicate_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A new version of the final label; refused (409) when it changed since the page opened."""
    sample, access = policy.viewable_sample_to_answer(user=request.user, pk=pk)
    policy.require(policy.can_adjudicate(access=access))
    return save_label_response(
        request,
        sample=sample,
        access=access,
        save=adjudicate_sample,
        action="review:adjudicate",
        kind=Assignment.Kind.ADJUDICATE,
        default_version=0,
    )


def save_label_response(
    request: HtmxHttpRequest,
    *,
    sample: Sample,
    access: SampleAccess,
    save: Callable[..., object],
    action: str,
    kind: str,
    default_version: int | None,
) -> HttpResponse:
    """Validate the label form, save it with `save` (a service taking label=Label(...)); the
    form with its errors when invalid, 409 on a stale version, else the next sample."""
    form = AdjudicationForm(request.POST, labels=sample.dataset.taxonomy.labels)
    if form.is_valid():
        data = form.cleaned_data
        base_version = data["base_version"]
        try:
            save(
                sample=sample,
                annotator=request.user,
                label=form.label(),
                time_spent_ms=form.time_spent(),
                base_version=default_version if base_version is None else base_version,
            )
        except VersionConflict as conflict:
            return conflict_response(
                request, sample=sample, access=access, conflict=conflict, action=action
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Saved “{data['emotion']}” for {sample.external_id}.")
            return redirect_to_next(request, kind=kind, dataset=sample.dataset, htmx=True)
    return invalid_response(request, sample=sample, access=access, form=form)


def invalid_response(
    request: HtmxHttpRequest, *, sample: Sample, access: SampleAccess, form: Any
) -> HttpResponse:
    """The form with its errors: the fragment for htmx (422), else the whole page (400)."""
    # The POST read the sample without its proposals and regions: the page shows them.
    sample = sample_for_review(pk=sample.pk)
    context = page_context(request, sample=sample, access=access, form=form)
    if wants_partial(request):
        # 422: app.js lets htmx swap it, so the form comes back with its errors in place.
        template = (
            "review/_binary_form.html"
            if context["mode"] == MODE_BINARY
            else "review/_adjudication_form.html"
        )
        return render(request, template, context, status=422)
    return render(request, "review/sample.html", context, status=400)


def conflict_response(
    request: HtmxHttpRequest,
    *,
    sample: Sample,
    access: SampleAccess,
    conflict: VersionConflict,
    action: str,
) -> HttpResponse:
    """409: their version next to yours, with "keep theirs" and "save mine over theirs"; for
    htmx also the decision banner (hx-swap-oob) where the page shows one."""
    theirs = conflict.theirs
    yours = conflict.yours.as_dict()
    context = {
        "sample": sample,
        "conflict": conflict,
        "theirs": theirs,
        "yours": yours,
        "rows": label_rows(theirs=theirs, yours=yours),
        "action": action,
        "message": str(conflict),
    }
    response = _conflict_page(request, sample=sample, context=context)
    if wants_partial(request) and access.adjudicate and access.see_final:
        # The banner above the form still shows the version this tab opened: swap in theirs.
        undo = policy.can_undo(access=access, user=request.user, adjudication=theirs)
        banner = {
            "sample": sample,
            "decision": theirs,
            "decision_oob": True,
            "can_undo": bool(undo),
        }
        response.content += render_to_string("review/_decision.html", banner, request).encode()
    return response


def answered_response(
    request: HtmxHttpRequest, *, sample: Sample, saved: Any, access: SampleAccess
) -> HttpResponse:
    """409: the answer this person already saved (another tab) next to what this tab sent;
    "replace it" while they may still change it (the label is not final)."""
    form = AdjudicationForm(request.POST, labels=sample.dataset.taxonomy.labels)
    sent = form.cleaned_data if form.is_valid() else request.POST
    yours = {f: sent.get(f) for f in LABEL_FIELDS}
    current = current_adjudication(sample=sample) if access.change else None
    context = {
        "kind": "answered",
        "sample": sample,
        "theirs": saved,
        "yours": yours,
        "rows": label_rows(theirs=saved, yours=yours),
        "message": "Nothing from this tab was saved: your earlier answer stands.",
        # The change form's base: the label version now, the one this view shows the answer of.
        "change_action": "review:change_answer" if access.change else "",
        "change_base": current.version if current else 0,
    }
    return _conflict_page(request, sample=sample, context=context)


def _conflict_page(
    request: HtmxHttpRequest, *, sample: Sample, context: dict[str, Any]
) -> HttpResponse:
    """409 with the side-by-side: the fragment for htmx, else the sample page around it."""
    if wants_partial(request):
        return render(request, "review/_conflict.html", context, status=409)
    sample = sample_for_review(pk=sample.pk)  # with the proposals and regions the POST skipped
    access = sample_access(user=request.user, sample=sample)
    page = page_context(request, sample=sample, access=access)
    page["conflict_context"] = context
    return render(request, "review/sample.html", page, status=409)


@role_required(ANNOTATOR)
@require_POST
def skip_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Give the lease back (others may take it; you are not offered it again)."""
    sample, _ = policy.viewable_sample_to_answer(user=request.user, pk=pk)
    try:
        skip_assignment(sample=sample, user=request.user)
    except ValidationError as error:
        raise PermissionDenied(" ".join(error.messages)) from error
    messages.info(request, f"Skipped {sample.external_id}.")
    return redirect_to_next(
        request, kind=Assignment.Kind.ANNOTATE, dataset=sample.dataset, htmx=True
    )
