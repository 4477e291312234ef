"""The datasheet beside every export, parsed as Markdown (markdown-it): counts by status, source
and label, deciders, models and prompt versions, the critic's latest verdicts, people's answers,
agreement equal to the audit's and to the krippendorff package, licence, date and format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import krippendorff
import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from markdown_it import MarkdownIt

from annotator.models import CriticVerdict, Sample
from review.models import Adjudication, Annotation, BinaryVote
from review.selectors.audit import AuditFilters, audit_figures, clear_audit_cache
from review.services.export_datasheet import datasheet_markdown
from tests import factories
from tests.review.services.test_export import (
    AdjudicationFactory,
    CriticVerdictFactory,
    DatasetFactory,
    SampleFactory,
)

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
# People's answers on three disputed samples: rows are samples, columns people (None = none).
ANSWERS: list[list[str | None]] = [
    ["awe", "awe", "fear"],
    ["fear", "fear", None],
    ["awe", "sadness", "awe"],
]


def tables(markdown: str) -> dict[str, list[list[str]]]:
    """Every table of the page, keyed by its first header cell: rows of cell texts."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    found: dict[str, list[list[str]]] = {}
    rows: list[list[str]] = []
    in_cell = False
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            in_cell = True
        elif token.type == "inline" and in_cell:
            rows[-1].append("".join(child.content for child in token.children or []))
            in_cell = False
        elif token.type == "table_close":
            found[rows[0][0]] = rows[1:]
            rows = []
    return found


@pytest.fixture
def dataset(db, django_user_model):
    clear_audit_cache()
    dataset = DatasetFactory(
        name="sheet", licence="CC BY-NC 4.0", attribution="EmoSet | FI authors"
    )
    people = [cast(Any, factories.UserFactory(username=f"p{i}", password=None)) for i in range(3)]
    for emotion, source in (("awe", "EmoSet"), ("awe", "EmoSet"), ("contentment", "FI")):
        sample = SampleFactory(
            dataset=dataset, status="agreed", suggested_emotion=emotion, source=source
        )
        for model, version in (("gpt-4o", "v2"), ("gemini", "v1")):
            factories.ProposalFactory(
                sample=sample, model_name=model, emotion=emotion, prompt_version=version
            )
    person = SampleFactory(dataset=dataset, status="adjudicated", source="FI")
    AdjudicationFactory(sample=person, annotator=people[0], emotion="fear", version=1)
    undone = AdjudicationFactory(sample=person, annotator=people[1], version=2)
    Adjudication.objects.filter(pk=undone.pk).update(reverted=True)  # fear stays current
    consensus = SampleFactory(dataset=dataset, status="adjudicated", source="FI")
    AdjudicationFactory(
        sample=consensus, annotator=None, method="consensus", emotion="awe", version=1
    )
    older = CriticVerdictFactory(sample=consensus, verdict=CriticVerdict.Verdict.DROP)
    CriticVerdict.objects.filter(pk=older.pk).update(created_at=datetime(2025, 1, 1, tzinfo=UTC))
    CriticVerdictFactory(sample=consensus, verdict=CriticVerdict.Verdict.PRESERVE)
    for answers in ANSWERS:
        sample = SampleFactory(dataset=dataset, status="disputed", source="EmoSet")
        for who, answer in zip(people, answers, strict=True):
            if answer:
                Annotation.objects.create(sample=sample, annotator=who, emotion=answer)
    BinaryVote.objects.create(
        sample=sample, annotator=people[2], emotion="awe", value=True, source="import"
    )
    SampleFactory(dataset=dataset, status="pending", source="")
    return dataset


def test_counts_by_status_source_label_and_decider(dataset):
    found = tables(datasheet_markdown(dataset=dataset, scope="decided", fmt="parquet", now=NOW))
    status = {row[0]: row[1] for row in found["status"]}
    assert status == {
        "pending": "1", "agreed": "3", "disputed": "3", "adjudicated": "2", "dropped": "0"
    }  # fmt: skip
    assert {row[0]: row[1] for row in found["source"]} == {"FI": "3", "EmoSet": "2"}
    labels = dataset.taxonomy.labels
    assert found["emotion"] == [
        ["awe", str(labels.index("awe")), "3"],
        ["contentment", str(labels.index("contentment")), "1"],
        ["fear", str(labels.index("fear")), "1"],
    ]
    assert {row[0]: row[1] for row in found["decided by"]} == {
        "models": "3", "consensus": "1", "person": "1"
    }  # fmt: skip


def test_models_critic_people_licence_date_and_format(dataset):
    page = datasheet_markdown(dataset=dataset, scope="all", fmt="coco", now=NOW)
    found = tables(page)
    assert found["model"] == [["gemini", "v1", "3"], ["gpt-4o", "v2", "3"]]
    assert {row[0]: row[1] for row in found["verdict"]} == {"preserve": "1"}  # latest only
    assert {row[0]: row[1] for row in found["kind"]} == {
        "answers (app)": "8", "yes/no votes (import)": "1", "blind answers": "0"
    }  # fmt: skip
    assert "People who answered, voted or decided a final label: 3." in page
    assert "- Licence: CC BY-NC 4.0" in page
    assert "People's figures are over yes/no votes" in page
    assert "EmoSet \\| FI authors" not in page  # not a table cell: left as written
    assert "Exported 2026-12-03T14:00:00+00:00 as coco, scope all." in page
    assert {row[0]: row[1] for row in found["source"]} == {"EmoSet": "5", "FI": "3", "(none)": "1"}


def test_agreement_is_the_audits_and_the_krippendorff_packages(dataset):
    BinaryVote.objects.all().delete()  # with votes, the audit's people units are the votes
    page = datasheet_markdown(dataset=dataset, scope="decided", now=NOW)
    raters = {row[0]: row for row in tables(page)["raters"]}
    labels: list[str] = dataset.taxonomy.labels
    coded = [[labels.index(a) if a else np.nan for a in row] for row in ANSWERS]
    alpha = krippendorff.alpha(reliability_data=np.array(coded).T, level_of_measurement="nominal")
    assert raters["people"][4] == f"{alpha:.3f}"
    figures = audit_figures(filters=AuditFilters(dataset=dataset))
    assert raters["models"][2] == f"{figures['models']['pairwise_agreement']:.3f}"
    assert raters["people"][3] == "n/a"  # unequal ratings per item: no Fleiss' kappa
    pair = tables(page)["model pair"]
    assert pair[0][:2] == ["gemini / gpt-4o", "3"]


def test_a_pipe_or_newline_in_a_name_does_not_break_a_table(dataset):
    Sample.objects.filter(dataset=dataset, source="FI").update(source="a|b\nc")
    found = tables(datasheet_markdown(dataset=dataset, scope="decided", now=NOW))
    assert {row[0]: row[1] for row in found["source"]} == {"a|b c": "3", "EmoSet": "2"}


def test_queries_do_not_grow_with_samples(dataset):
    def count() -> int:
        clear_audit_cache()
        with CaptureQueriesContext(connection) as ctx:
            datasheet_markdown(dataset=dataset, scope="all", now=NOW)
        return len(ctx.captured_queries)

    before = count()
    for _ in range(20):
        sample = SampleFactory(dataset=dataset, status="agreed", suggested_emotion="awe")
        factories.ProposalFactory(sample=sample, model_name="gpt-4o")
        factories.CriticVerdictFactory(sample=sample)
    assert count() == before


def _section(page: str, title: str) -> list[str]:
    """The lines of one `## title` section, up to the next heading."""
    lines = page.splitlines()
    if f"## {title}" not in lines:
        return []
    start = lines.index(f"## {title}") + 1
    rest = lines[start:]
    end = next((i for i, line in enumerate(rest) if line.startswith("#")), len(rest))
    return [line for line in rest[:end] if line]


def test_a_labels_csv_datasheet_says_bbox_holds_masks_too(dataset):
    columns = _section(
        datasheet_markdown(dataset=dataset, scope="all", fmt="csv", now=NOW), "Columns"
    )
    (bbox,) = columns
    assert bbox.startswith("- bbox: ") and "COCO RLE" in bbox and '"origin": "person"' in bbox
    # The other formats have no bbox column: no such note.
    assert (
        _section(datasheet_markdown(dataset=dataset, scope="all", fmt="coco", now=NOW), "Columns")
        == []
    )


def test_an_answers_datasheet_explains_the_order_and_the_two_times(dataset):
    page = datasheet_markdown(dataset=dataset, scope="all", fmt="csv", now=NOW, answer_rows=9)
    columns = " ".join(_section(page, "Columns"))
    assert "time order: answered_at, then the row's id" in columns
    assert "changed_at (the last column)" in columns and "bbox" not in columns
