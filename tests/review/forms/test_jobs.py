"""The export forms: the job form takes the direct download's fields and checks them the same."""

from __future__ import annotations

import pytest

from review.forms.jobs import ExportForm, StartExportForm
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db

SHARED = ["dataset", "format", "scope", "no_formula_guard"]


@pytest.fixture(autouse=True)
def datasets():
    DatasetFactory(name="first")
    DatasetFactory(name="second")


def test_the_job_form_offers_the_direct_forms_choices_in_its_order():
    direct, job = ExportForm(), StartExportForm()
    assert list(job.fields) == ["dataset", "kind", *SHARED[1:], "embed_images"]
    for name in SHARED:
        assert job[name].label == direct[name].label
    for name in ["dataset", "format", "scope"]:
        assert list(job[name].field.widget.choices) == list(direct[name].field.widget.choices)
    # The same radios; the job form's also say which formats hold labels only.
    assert str(job["format"]).replace(" data-labels-only", "") == str(direct["format"])
    assert str(job["no_formula_guard"]) == str(direct["no_formula_guard"])


def test_only_the_job_forms_scope_carries_the_answers_hint():
    assert StartExportForm()["scope"].help_text == "Labels only: answers are always all of them."
    assert ExportForm()["scope"].help_text == ""
    assert ExportForm.base_fields["scope"].help_text == ""


def test_bad_shared_fields_get_the_same_errors_in_both_forms():
    data = {"dataset": "missing", "format": "xlsx", "scope": "some", "kind": "labels"}
    direct, job = ExportForm(data), StartExportForm(data)
    assert not direct.is_valid() and not job.is_valid()
    assert set(direct.errors) == {"dataset", "format", "scope"}
    assert job.errors == direct.errors


@pytest.mark.parametrize(("fmt", "ok"), [("csv", True), ("parquet", True), ("coco", False)])
def test_answers_export_only_as_csv_or_parquet(fmt, ok):
    data = {"dataset": "second", "kind": "answers", "format": fmt, "scope": "all"}
    form = StartExportForm(data)
    assert form.is_valid() is ok
    if ok:
        assert form.cleaned_data["dataset"].name == "second"
        assert form.cleaned_data["no_formula_guard"] is False
    else:
        assert form.errors == {"format": ["Answers export as CSV or Parquet."]}


def _format_inputs(form: StartExportForm) -> dict[str, str]:
    return {w.data["value"]: str(w.tag()) for w in form["format"].subwidgets}


def test_answers_chosen_disables_the_formats_that_hold_labels_only():
    data = {"dataset": "first", "kind": "answers", "format": "coco", "scope": "all"}
    refused = StartExportForm(data)
    assert not refused.is_valid()
    assert refused.errors["format"] == ["Answers export as CSV or Parquet."]
    tags = _format_inputs(refused)
    assert all("disabled" in tags[f] for f in ("coco", "jsonl", "labelstudio"))
    assert all("disabled" not in tags[f] for f in ("csv", "parquet"))
    assert refused.answers_chosen

    labels = StartExportForm({**data, "kind": "labels"})
    assert labels.is_valid() and not labels.answers_chosen
    assert not any("disabled" in tag for tag in _format_inputs(labels).values())
    assert not any("disabled" in tag for tag in _format_inputs(StartExportForm()).values())
    assert StartExportForm(initial={"kind": "answers"}).answers_chosen
