"""Who may see or do what on a sample: every rule in one place.

Every view, API endpoint and mask service asks this module; none reads roles, leases or blind
state on its own. The rules (docs/permissions.md has them as a table, tests/review/
permission_matrix.py checks each against a real request):

- Roles (review.roles): annotator, adjudicator, auditor; admins hold all three; a person may
  hold several. No role: nothing.
- Blind review: an annotator holding a lease they have not answered (nor given up) answers
  blind, whatever other roles they hold: no one else's answers or notes, no final label, only
  their own events in the history, no deciding. A machine-blind dataset
  (Dataset.machine_blind) also hides the machines (and their masks) until their first answer.
- An annotator sees a sample while it is theirs: a lease, or an answer they gave. A sample they
  skipped stays readable under the blind rules: they did not review it, so no final label, no
  one else's answers or notes, and the machines stay hidden on a machine-blind dataset (taking
  it back leases it again). Skipping ends blind review for someone who also adjudicates or
  audits: from then on they see it as such.
- After answering they see their own answer; the final label once their answer can no longer
  change (it is final).
- Adjudicators and auditors (not answering blind) see everything: every answer, every mask, the
  final label, the history. Adjudicators decide; the author of the current decision, or an
  admin, may undo it (naming the version they saw).
- Masks: whoever may see the sample reads its masks; editing is for adjudicators and for
  annotators with a running or answered lease, never while the machines are hidden.
- Export, import and pipeline runs: admins. Audit pages: auditors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied

from annotator.models import Sample
from review.models import (
    Adjudication,
    Annotation,
    Assignment,
    AuditEvent,
    BinaryVote,
    BlindAnswer,
)
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, is_admin, user_roles
from review.selectors.assignment import annotate_lease, lease_outcome
from review.selectors.history import sample_events
from review.selectors.own_answers import answer_change_refusal, has_voted
from review.selectors.samples import (
    adjudication_versions,
    own_answer,
    sample_for_answer,
    sample_for_review,
)
from review.services import history

SEE_ALL_ROLES = frozenset({ADJUDICATOR, AUDITOR})
HELD = (Assignment.Status.ACTIVE, Assignment.Status.EXPIRED)  # still theirs to answer
MASK_LEASES = (Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED)

NOT_YOURS = "This sample is not assigned to you."
ANSWER_FIRST = (
    "You are answering this sample blind: others' answers, its label and its history stay "
    "hidden until you answer or skip it."
)
HISTORY_ROLES = "The history shows everyone's answers: adjudicators and auditors only."
# A blind answerer's own events that tell nothing of others (services.blind_answers'
# BLIND_ANSWER is the commit of their own first answer).
BLIND_SAFE_EVENTS = (history.LEASE, history.SKIP, history.TAKE_BACK, "blind_answer")
MACHINES_HIDDEN = "This dataset is blind to the machines: answer first, then edit the masks."


@dataclass(frozen=True)
class Decision:
    """Allowed or not, and why not (the 403's message)."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def _decide(allowed: bool, reason: str) -> Decision:
    return ALLOWED if allowed else Decision(False, reason)


def require(decision: Decision) -> None:
    """PermissionDenied with the decision's reason when it says no: a 403 carrying that
    message on the web and in the API (DRF turns Django's PermissionDenied into its own)."""
    if not decision:
        raise PermissionDenied(decision.reason)


@dataclass(frozen=True)
class SampleAccess:
    """What one person may see and do on one sample (templates read these names)."""

    roles: frozenset[str] = field(default_factory=frozenset)
    lease: Assignment | None = None  # their annotate lease, whatever its status
    answered: bool = False  # an answer (or a binary vote) of theirs exists
    change: bool = False  # they answered and may still change that answer
    change_refusal: str = ""  # why their answer may not change any more ("" when it may)
    machines_hidden: bool = False  # machine-blind dataset, no blind answer of theirs yet
    own: Annotation | None = None  # their answer, read once for the policy and the page

    @property
    def answer(self) -> bool:
        """They hold a lease they have not answered: they answer blind."""
        return self.lease is not None and self.lease.status in HELD and not self.answered

    @property
    def blind(self) -> bool:
        return self.answer

    @property
    def skipped(self) -> bool:
        lease = self.lease
        return lease is not None and lease.status == Assignment.Status.SKIPPED

    @property
    def view(self) -> bool:
        return bool(self.roles & SEE_ALL_ROLES) or self.answered or self.lease is not None

    @property
    def see_all(self) -> bool:
        """Everyone's answers, notes and masks, the final label, the whole history."""
        return bool(self.roles & SEE_ALL_ROLES) and not self.blind

    @property
    def see_final(self) -> bool:
        """The final label: everyone who sees all, and answerers once it is final for them
        (never someone who skipped it without answering)."""
        return self.see_all or (self.answered and not self.change)

    @property
    def adjudicate(self) -> bool:
        return ADJUDICATOR in self.roles and not self.blind

    @property
    def edit_masks(self) -> bool:
        if not self.view or self.machines_hidden:
            return False
        leased = self.lease is not None and self.lease.status in MASK_LEASES
        return ADJUDICATOR in self.roles or leased or self.answered

    @property
    def read_masks(self) -> bool:
        return self.view and not self.machines_hidden


def sample_access(*, user: Any, sample: Sample) -> SampleAccess:
    """The person's access to the sample: up to four queries, none without a role."""
    roles = user_roles(user)
    if not roles:
        return SampleAccess()
    if ANNOTATOR not in roles:
        return SampleAccess(roles=roles)
    lease = annotate_lease(sample=sample, user=user)
    if lease is None:  # answers imported, or given before leases were kept
        own = own_answer(sample=sample, user=user)
        answered = own is not None or has_voted(sample=sample, user=user)
    else:  # the lease's row says whether there is an answer or a vote to read
        has_answer, voted = lease_outcome(lease)
        own = own_answer(sample=sample, user=user) if has_answer else None
        answered = own is not None or voted
    refusal = answer_change_refusal(sample=sample, annotation=own) if own is not None else None
    change = own is not None and refusal is None
    # Answering it, or (only an annotator here) having skipped it without answering.
    blind_reader = (
        lease is not None
        and not answered
        and (
            lease.status in HELD
            or (lease.status == Assignment.Status.SKIPPED and not roles & SEE_ALL_ROLES)
        )
    )
    hidden = (
        blind_reader
        and sample.dataset.machine_blind
        and not BlindAnswer.objects.filter(sample=sample, annotator=user).exists()
    )
    return SampleAccess(
        roles=roles, lease=lease, answered=answered, change=change,
        change_refusal=refusal or "", machines_hidden=hidden, own=own,
    )  # fmt: skip


def can_view(*, access: SampleAccess) -> Decision:
    return _decide(access.view, NOT_YOURS)


def can_view_sample(*, user: Any, sample: Sample) -> Decision:
    return can_view(access=sample_access(user=user, sample=sample))


def viewable_sample(*, user: Any, pk: int) -> tuple[Sample, SampleAccess]:
    """The sample as its page and the API read it, and the user's access to it; Http404 when
    there is none, PermissionDenied when it is not theirs to see."""
    sample = sample_for_review(pk=pk)
    access = sample_access(user=user, sample=sample)
    require(can_view(access=access))
    return sample, access


def viewable_sample_to_answer(*, user: Any, pk: int) -> tuple[Sample, SampleAccess]:
    """viewable_sample for a POST that saves an answer or a decision: the sample without its
    proposals and regions (a page drawn after it reloads them)."""
    sample = sample_for_answer(pk=pk)
    access = sample_access(user=user, sample=sample)
    require(can_view(access=access))
    return sample, access


def can_see_other_answers(*, access: SampleAccess) -> Decision:
    return _decide(access.see_all, ANSWER_FIRST if access.blind else NOT_YOURS)


CONSENSUS_HIDDEN = "Answer this sample first: its consensus counts other people's answers."


def can_see_consensus(*, access: SampleAccess) -> Decision:
    """The latent-class consensus mixes the machines with other people's answers: whoever sees
    everything, or has answered the sample; never while the machines are hidden from them."""
    allowed = (access.see_all or access.answered) and not access.machines_hidden
    return _decide(allowed, CONSENSUS_HIDDEN)


SKIPPED = "You skipped this sample without answering it: its label is not shown to you."


def can_see_final_label(*, access: SampleAccess) -> Decision:
    if access.blind:
        return Decision(False, ANSWER_FIRST)
    return _decide(access.see_final, SKIPPED if access.skipped else NOT_YOURS)


def can_adjudicate(*, access: SampleAccess) -> Decision:
    if access.blind and ADJUDICATOR in access.roles:
        return Decision(False, ANSWER_FIRST)
    return _decide(access.adjudicate, "Deciding a label needs the adjudicator role.")


def can_save_draft(*, access: SampleAccess) -> Decision:
    return _decide(
        access.answer or access.change or access.adjudicate,
        "This sample is no longer open for you to answer (answered or skipped, perhaps in "
        "another tab): your changes here are not kept as a draft.",
    )


def can_edit_masks(*, user: Any, sample: Sample) -> Decision:
    access = sample_access(user=user, sample=sample)
    if access.view and access.machines_hidden:
        return Decision(False, MACHINES_HIDDEN)
    return _decide(
        access.edit_masks,
        f"Sample {sample.external_id} is not assigned to you: you cannot edit its masks.",
    )


def can_read_masks(*, access: SampleAccess) -> Decision:
    return _decide(access.read_masks, MACHINES_HIDDEN if access.machines_hidden else NOT_YOURS)


def is_decision_author(*, user: Any, adjudication: Adjudication | None) -> bool:
    """The author of this label version, or an admin: who may undo it."""
    if adjudication is None or user is None or not user.is_authenticated:
        return False
    return is_admin(user) or (
        adjudication.annotator_id is not None and adjudication.annotator_id == user.pk
    )


def can_undo(*, access: SampleAccess, user: Any, adjudication: Adjudication | None) -> Decision:
    """Adjudicators (not answering blind) undo their own decision; admins any. Annotators
    change their answer instead: an undo would hand an answered sample to an adjudicator."""
    allowed = can_adjudicate(access=access)
    if not allowed:
        return Decision(False, allowed.reason or "Only an adjudicator or an admin can undo.")
    return _decide(
        is_decision_author(user=user, adjudication=adjudication),
        "Only the author of this decision or an admin can undo it.",
    )


WORK_ROLE: dict[str, str] = {
    Assignment.Kind.ANNOTATE: ANNOTATOR,
    Assignment.Kind.ADJUDICATE: ADJUDICATOR,
}


def work_kind(*, user: Any, asked: str = "") -> str:
    """The kind of lease "Next" hands out: the one asked for, else annotate for annotators
    and adjudicate for the others; PermissionDenied when their roles do not allow it."""
    roles = user_roles(user)
    kind = asked or (Assignment.Kind.ANNOTATE if ANNOTATOR in roles else Assignment.Kind.ADJUDICATE)
    if kind not in WORK_ROLE:
        raise PermissionDenied(f"Unknown kind of work {kind!r}.")
    if WORK_ROLE[kind] not in roles:
        raise PermissionDenied(f"Getting “{kind}” work needs the {WORK_ROLE[kind]} role.")
    return kind


def sees_whole_queue(*, user: Any) -> bool:
    """Adjudicators and auditors see the queue; annotators only what was handed to them."""
    return bool(user_roles(user) & SEE_ALL_ROLES)


def can_administer(*, user: Any) -> Decision:
    """Export, import, pipeline runs: admins (is_staff or superuser)."""
    return _decide(is_admin(user), "Only admins can do this.")


def can_audit(*, user: Any) -> Decision:
    return _decide(AUDITOR in user_roles(user), "This page needs the auditor or admin role.")


@dataclass(frozen=True)
class VisibleHistory:
    """The part of a sample's history the person may read: all of it, or (answering blind)
    their own events that reveal nothing of others, without the label's versions."""

    decision: Decision
    full: bool = False
    events: list[AuditEvent] = field(default_factory=list)
    versions: list[Adjudication] = field(default_factory=list)

    @property
    def hidden_note(self) -> str:
        return "" if self.full else ANSWER_FIRST


def visible_history(*, user: Any, sample: Sample, access: SampleAccess) -> VisibleHistory:
    if not access.roles & SEE_ALL_ROLES:
        return VisibleHistory(Decision(False, HISTORY_ROLES))
    if access.see_all:
        events = list(sample_events(sample=sample))
        return VisibleHistory(
            ALLOWED, full=True, events=events, versions=adjudication_versions(sample=sample)
        )
    own = sample_events(sample=sample).filter(actor=user, action__in=BLIND_SAFE_EVENTS)
    return VisibleHistory(ALLOWED, events=list(own))


def blind_sample_ids(*, user: Any) -> set[int]:
    """The samples the person answers blind now (their leases not answered yet: a few)."""
    if ANNOTATOR not in user_roles(user):
        return set()
    held = set(
        Assignment.objects.filter(
            annotator=user, kind=Assignment.Kind.ANNOTATE, status__in=HELD
        ).values_list("sample_id", flat=True)
    )
    if not held:
        return held
    answered = Annotation.objects.filter(annotator=user, sample_id__in=held)
    voted = BinaryVote.objects.filter(annotator=user, sample_id__in=held)
    return (
        held
        - set(answered.values_list("sample_id", flat=True))
        - set(voted.values_list("sample_id", flat=True))
    )


def without_blind_samples(*, user: Any, sample_ids: list[int]) -> list[int]:
    """`sample_ids` less those the person answers blind: per-sample lists (the audit's
    drill-downs show each sample's final label) leave them out until they answer."""
    hidden = blind_sample_ids(user=user)
    return [pk for pk in sample_ids if pk not in hidden] if hidden else sample_ids
