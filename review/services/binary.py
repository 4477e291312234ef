"""EmoNet-Face's binary agreement protocol: per (image, emotion) a yes/no question.

The first expert answers every question of a sample; a second and a third are asked only when
the dataset's rule (Dataset.binary_protocol) needs them, e.g.

    {"max_votes": 3, "second_when": "yes", "third_when": "split", "emotions": "proposed"}

second_when: "yes" (ask again when the first said yes), "no", "always" or "never";
third_when: "split" (the two disagree), "always" or "never"; emotions: "proposed" (the emotions
the models named, plus the suggestion), "taxonomy" (every label) or an explicit list.
A question is settled when no further vote is needed: the emotion is present when yes-votes
outnumber no-votes. When every question of a sample is settled, exactly one present emotion is
the sample's consensus label; none or several send the sample to an adjudicator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotator.models import Dataset, Sample
from review.labels import Label
from review.models import Adjudication, Assignment, BinaryVote, Draft
from review.services import history
from review.services.adjudication import record_final_label

SECOND_RULES = ("yes", "no", "always", "never")
THIRD_RULES = ("split", "always", "never")


@dataclass(frozen=True)
class BinaryProtocol:
    max_votes: int = 3
    second_when: str = "yes"
    third_when: str = "split"
    emotions: str | tuple[str, ...] = "proposed"


def binary_protocol(*, dataset: Dataset) -> BinaryProtocol | None:
    """The dataset's protocol, or None when it collects full labels instead."""
    raw: Mapping[str, Any] = dataset.binary_protocol or {}
    if not raw:
        return None
    emotions = raw.get("emotions", "proposed")
    protocol = BinaryProtocol(
        max_votes=int(raw.get("max_votes", 3)),
        second_when=str(raw.get("second_when", "yes")),
        third_when=str(raw.get("third_when", "split")),
        emotions=tuple(emotions) if isinstance(emotions, list) else str(emotions),
    )
    if protocol.second_when not in SECOND_RULES or protocol.third_when not in THIRD_RULES:
        raise ValidationError(
            f"dataset {dataset.name}: binary_protocol second_when must be one of {SECOND_RULES} "
            f"and third_when one of {THIRD_RULES}"
        )
    return protocol


def needs_another_vote(*, votes: Sequence[bool], protocol: BinaryProtocol) -> bool:
    """Whether the question (one sample, one emotion) needs one more expert."""
    n = len(votes)
    if n == 0:
        return True
    if n >= protocol.max_votes:
        return False
    if n == 1:
        rule = protocol.second_when
        return rule == "always" or (rule == "yes" and votes[0]) or (rule == "no" and not votes[0])
    if n == 2:
        rule = protocol.third_when
        return rule == "always" or (rule == "split" and votes[0] != votes[1])
    return False


def present(votes: Sequence[bool]) -> bool:
    return sum(votes) > len(votes) - sum(votes)


def question_emotions(*, sample: Sample, protocol: BinaryProtocol) -> list[str]:
    """The emotions asked about on this sample, in taxonomy order."""
    labels: list[str] = list(sample.dataset.taxonomy.labels)
    if protocol.emotions == "taxonomy":
        return labels
    if isinstance(protocol.emotions, tuple):
        wanted = set(protocol.emotions)
    else:
        wanted = {e for e in sample.proposals.values_list("emotion", flat=True) if e}
        if sample.suggested_emotion:
            wanted.add(sample.suggested_emotion)
    return [label for label in labels if label in wanted]


def votes_by_emotion(*, sample: Sample) -> dict[str, list[bool]]:
    votes: dict[str, list[bool]] = {}
    for emotion, value in sample.binary_votes.order_by("created_at", "id").values_list(
        "emotion", "value"
    ):
        votes.setdefault(emotion, []).append(value)
    return votes


def open_questions(*, sample: Sample, protocol: BinaryProtocol, user: Any = None) -> list[str]:
    """Emotions that still need a vote (from `user`, who must not have voted on them)."""
    votes = votes_by_emotion(sample=sample)
    mine: set[str] = set()
    if user is not None:
        mine = set(sample.binary_votes.filter(annotator=user).values_list("emotion", flat=True))
    return [
        emotion
        for emotion in question_emotions(sample=sample, protocol=protocol)
        if emotion not in mine
        and needs_another_vote(votes=votes.get(emotion, []), protocol=protocol)
    ]


def submit_binary_votes(
    *, sample: Sample, annotator: Any, answers: Mapping[str, bool]
) -> Adjudication | None:
    """Store the annotator's yes/no answers; settle the sample when no question is left open.

    `answers` must answer exactly the questions open for this annotator. Returns the consensus
    label when the votes settled on exactly one emotion.
    """
    protocol = binary_protocol(dataset=sample.dataset)
    if protocol is None:
        raise ValidationError(f"dataset {sample.dataset.name} does not use the binary protocol")
    with transaction.atomic():
        locked = Sample.objects.select_for_update().defer("des").get(pk=sample.pk)
        asked = open_questions(sample=locked, protocol=protocol, user=annotator)
        if set(answers) != set(asked):
            missing = ", ".join(sorted(set(asked) - set(answers))) or "none"
            raise ValidationError(
                f"Answer every open question (missing: {missing}); the questions may have "
                "changed since the page opened."
            )
        try:
            BinaryVote.objects.bulk_create(
                BinaryVote(sample=locked, annotator=annotator, emotion=e, value=answers[e])
                for e in asked
            )
        except IntegrityError as exc:
            raise ValidationError("You already answered these questions.") from exc
        Assignment.objects.filter(
            sample=locked, annotator=annotator, kind=Assignment.Kind.ANNOTATE
        ).update(status=Assignment.Status.SUBMITTED)
        Draft.objects.filter(sample=locked, author=annotator).delete()
        history.record_event(
            sample=locked, actor=annotator, action=history.BINARY_VOTE, after=dict(answers)
        )
        decided = _settle(sample=locked, protocol=protocol)
    sample.status = locked.status
    return decided


def _settle(*, sample: Sample, protocol: BinaryProtocol) -> Adjudication | None:
    if open_questions(sample=sample, protocol=protocol):
        return None
    votes = votes_by_emotion(sample=sample)
    outcome = {e: present(v) for e, v in votes.items()}
    chosen = [e for e, yes in outcome.items() if yes]
    if len(chosen) != 1:
        history.record_event(
            sample=sample, actor=None, action=history.CONFLICT, after={"present": chosen}
        )
        return None
    emotion = chosen[0]
    share = sum(votes[emotion]) / len(votes[emotion])
    return record_final_label(
        sample=sample,
        label=Label(emotion=emotion, confidence=round(10 * share, 1)),
        method=Adjudication.Method.CONSENSUS,
        decided_by=None,
        base_version=None,
        details={"protocol": "binary", "votes": {e: v for e, v in votes.items()}},
    )
