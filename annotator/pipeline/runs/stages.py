"""The stages: annotate (a VLM), calibrate (a classifier), verify (the weighted vote), critic.

Each stage function calls its model outside any transaction and returns a Computed whose
`write` makes the database writes; execution.py runs the write in the transaction that records
the unit. Adapters are imported inside the functions: loading this module loads no model stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from django.db import connection

from annotator.models import CriticVerdict, Proposal, Sample, StageResult
from annotator.pipeline.runs.budget import check_budget
from annotator.pipeline.runs.context import (
    Computed,
    RoundUnits,
    StageFailed,
    UnitContext,
    image_file,
)
from annotator.pipeline.runs.ground import ground
from annotator.pipeline.runs.seeding import create_round_units
from annotator.pipeline.runs.units import (
    ANNOTATE,
    CALIBRATE,
    CRITIC,
    GROUND,
    ROUND_STAGES,
    VERIFY,
    UnitKey,
    UnitRef,
    chosen_for_spot_check,
)
from annotator.pipeline.runs.writes import RowWrites, SampleVerification
from annotator.selectors.pipeline_runs import critic_inputs, revise_instructions
from annotator.services.verification import Verification, Vote, apply_review_rules, cross_verify

# The Proposal row a classifier's prediction is stored on, when no row carries it yet.
CLASSIFIER_ROWS = {"import": "classifier"}


def annotate(ctx: UnitContext) -> Computed:
    unit = ctx.unit
    endpoint = ctx.config.annotators.get(unit.model_name)
    if endpoint is None:
        raise StageFailed(f"annotator {unit.model_name!r} is not in this run's config")
    check_budget(ctx)
    image = image_file(ctx.sample)  # encoded once a process (adapters/images.py)
    instructions = ""
    if unit.round > 0:
        instructions = revise_instructions(sample_id=unit.sample_id, round_=unit.round - 1)
    from annotator.adapters.vlm import get_vlm_annotator

    annotator = get_vlm_annotator(
        config=endpoint, labels=ctx.labels, prompt_version=unit.prompt_version
    )
    reply = annotator.annotate(image=image, instructions=instructions)
    proposal = Proposal(
        sample_id=unit.sample_id, model_name=reply.endpoint, **reply.proposal_fields()
    )
    output: dict[str, Any] = {"model": reply.model, "emotion": reply.emotion, "reply": reply.raw}
    if reply.repaired:
        output["repaired"] = True
    return Computed(
        output=output,
        proposal=proposal,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        latency_ms=round(reply.latency_ms, 1),
    )


def calibrate(ctx: UnitContext) -> Computed:
    from annotator.adapters.classifier import get_classifier, top_label

    name = ctx.unit.model_name
    distribution = get_classifier(name).predict(sample_id=ctx.unit.sample_id)
    if not distribution:
        return Computed(skipped=True, output={"reason": "the classifier has no prediction"})
    label = top_label(distribution, labels=ctx.labels) or ""
    sample_id = ctx.unit.sample_id

    def write(round_units: RoundUnits) -> list[UnitRef]:
        store_classifier_proposal(
            sample_id=sample_id, classifier=name, distribution=distribution, emotion=label
        )
        return []

    return Computed(output={"emotion": label, "distribution": distribution}, write=write)


def store_classifier_proposal(
    *, sample_id: int, classifier: str, distribution: dict[str, float], emotion: str
) -> None:
    """On the row that carries the classifier's distribution already, else on a row of its own."""
    row = (
        Proposal.objects.filter(sample_id=sample_id).exclude(distribution={}).order_by("id").first()
    )
    if row is None:
        raw = {"classifier": classifier}
        defaults = {"distribution": distribution, "emotion": emotion, "raw": raw}
        Proposal.objects.update_or_create(
            sample_id=sample_id,
            model_name=CLASSIFIER_ROWS.get(classifier, classifier),
            defaults=defaults,
        )
        return
    row.distribution = distribution
    row.emotion = row.emotion or emotion
    row.save(update_fields=["distribution", "emotion", "updated_at"])


class LatestVerdict(NamedTuple):
    verdict: str = ""
    emotion: str = ""
    model_name: str = ""  # the critic's model, or a person's (CriticVerdict.PERSON_PREFIX)

    def restorer(self) -> str:
        """The person whose verdict this is (an admin's restore), or ""."""
        person = CriticVerdict.PERSON_PREFIX
        return self.model_name.removeprefix(person) if self.model_name.startswith(person) else ""


def votes_and_verdict(*, sample_id: int) -> tuple[list[Vote], LatestVerdict]:
    """Every proposal's vote and the latest verdict, in one query (plain SQL: it runs for every
    sample, and the ORM's version cost more to build than to run)."""
    verdicts, proposals = CriticVerdict._meta.db_table, Proposal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 0, verdict, emotion, model_name FROM (SELECT verdict, emotion, model_name, "
            f'created_at, id FROM "{verdicts}" WHERE sample_id = %s '
            f"ORDER BY created_at DESC, id DESC LIMIT 1) v UNION ALL "
            f"SELECT id, model_name, emotion, '' FROM \"{proposals}\" WHERE sample_id = %s",
            [sample_id, sample_id],
        )
        rows = cursor.fetchall()
    verdict = next((LatestVerdict(v, e, m) for pk, v, e, m in rows if pk == 0), LatestVerdict())
    votes = [Vote(model, emotion) for _, model, emotion, _ in sorted(r for r in rows if r[0])]
    return votes, verdict


def store_verification(
    *,
    sample: Sample,
    current_status: str,
    votes: list[Vote],
    verdict: tuple[str, str],
    writes: RowWrites,
) -> Verification:
    """Cross-verification over all proposals, then the critic's and people's rules (the rules
    of annotator.services.verification.verify_sample). The callers, verify's and the critic's
    writes, hold the votes and the latest verdict already; the row joins the recording
    transaction's `writes`. A sample adjudicated meanwhile is left as people decided."""
    dataset = sample.dataset
    result = cross_verify(
        votes=votes, weights=dataset.model_weights or {}, labels=dataset.taxonomy.labels
    )
    status, suggested = apply_review_rules(
        result=result,
        verdict=verdict[0],
        verdict_emotion=verdict[1],
        current_status=current_status,
    )
    writes.samples.append(
        SampleVerification(sample.pk, status, suggested, result.margin, result.reasons)
    )
    return Verification(status, suggested, result.margin, result.reasons)


def needs_critic(*, status: str, sample_id: int, share: float) -> bool:
    if status == Sample.Status.DISPUTED:
        return True
    agreed = status == Sample.Status.AGREED
    return agreed and chosen_for_spot_check(sample_id=sample_id, share=share)


def verify(ctx: UnitContext) -> Computed:
    """Needs no model: the unit before it usually runs it in its own transaction (execution)."""
    unit = ctx.unit
    output: dict[str, Any] = {}
    share = ctx.config.critic_agreed_share

    def write(round_units: RoundUnits) -> list[UnitRef]:
        assert round_units.writes is not None  # record_locked gives every write its RowWrites
        votes, latest = votes_and_verdict(sample_id=unit.sample_id)
        result = store_verification(
            sample=ctx.sample,
            current_status=round_units.sample_status,
            votes=votes,
            verdict=(latest.verdict, latest.emotion),
            writes=round_units.writes,
        )
        output.update(status=result.status, suggested=result.suggested_emotion)
        if not needs_critic(status=result.status, sample_id=unit.sample_id, share=share):
            round_units.skip(CRITIC, f"{result.status}: not sent to the critic")
        elif person := latest.restorer():
            # A person overruled the critic's drop: a new run's critic may not drop it again.
            round_units.skip(CRITIC, f"restored by {person}: their verdict stands")
        return []

    return Computed(output=output, write=write)


def critic(ctx: UnitContext) -> Computed:
    unit, endpoint = ctx.unit, ctx.config.critic
    if endpoint is None:
        raise StageFailed("this run's config has no [critic]")
    check_budget(ctx)
    image = image_file(ctx.sample)  # encoded once a process (adapters/images.py)
    proposals, grounding = critic_inputs(sample_id=unit.sample_id)
    from annotator.adapters.critic import get_critic

    agent = get_critic(config=endpoint, prompt_version=unit.prompt_version)
    reply = agent.judge(image=image, proposals=proposals, grounding=grounding, labels=ctx.labels)
    fields = reply.verdict_fields()
    votes = [Vote(p["model"], p["emotion"]) for p in proposals]
    again = (
        reply.verdict == CriticVerdict.Verdict.REVISE
        and unit.round < ctx.config.max_revise_rounds
        and ANNOTATE in ctx.run.stages
    )

    def write(round_units: RoundUnits) -> list[UnitRef]:
        assert round_units.writes is not None  # record_locked gives every write its RowWrites
        round_units.writes.verdicts.append(
            CriticVerdict(sample_id=unit.sample_id, round=unit.round, **fields)
        )
        store_verification(
            sample=ctx.sample,
            current_status=round_units.sample_status,
            votes=votes,
            verdict=(reply.verdict, reply.emotion),  # the latest now
            writes=round_units.writes,
        )
        return next_round(unit) if again else []

    output = {key: fields[key] for key in ("verdict", "emotion", "instructions")}
    return Computed(
        output={**output, "reply": reply.raw},
        write=write,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        latency_ms=round(reply.latency_ms, 1),
    )


def next_round(unit: StageResult) -> list[UnitRef]:
    """The next round's units (this round's annotate, verify and critic units again); returns
    its annotate units, which start it."""
    assert unit.run_id is not None
    rows = StageResult.objects.filter(
        run_id=unit.run_id, sample_id=unit.sample_id, round=unit.round, stage__in=ROUND_STAGES
    ).values_list("stage", "model_name", "prompt_version")
    keys = [UnitKey(stage, model, version, unit.round + 1) for stage, model, version in rows]
    ids = create_round_units(run_id=unit.run_id, sample_id=unit.sample_id, keys=keys)
    return [UnitRef(pk, key.stage) for key, pk in ids.items() if key.stage == ANNOTATE]


StageFunction = Callable[[UnitContext], Computed]
STAGE_FUNCTIONS: dict[str, StageFunction] = {
    ANNOTATE: annotate,
    CALIBRATE: calibrate,
    GROUND: ground,
    VERIFY: verify,
    CRITIC: critic,
}


def stage_endpoint_retries(ctx: UnitContext) -> int:
    """How many times a transient error of this unit is retried (the endpoint's max_retries)."""
    endpoint: Any = None
    if ctx.unit.stage == ANNOTATE:
        endpoint = ctx.config.annotators.get(ctx.unit.model_name)
    elif ctx.unit.stage == CRITIC:
        endpoint = ctx.config.critic
    return endpoint.max_retries if endpoint is not None else 3
