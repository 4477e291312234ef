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
    assert str(job["format"]) == str(direct["format"])
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
