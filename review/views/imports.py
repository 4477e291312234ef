"""Admins upload a JSON Lines samples file; problems are listed, nothing half-imported."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from annotator.services.importing import ImportFailed, import_uploaded_samples
from review.forms import ImportForm


@login_required
def import_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    issues: list[str] = []
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = import_uploaded_samples(
                upload=upload,
                dataset_name=form.cleaned_data["dataset"],
                images_root=form.cleaned_data["images_root"],
                default_model=form.cleaned_data["model"],
            )
        except ImportFailed as exc:
            issues = [str(issue) for issue in exc.issues]
        else:
            dataset = form.cleaned_data["dataset"]
            messages.success(request, f"Imported {upload.name} into {dataset}: {report}")
            return redirect("review:queue")
    return render(request, "review/import.html", {"form": form, "issues": issues})
