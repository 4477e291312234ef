"""Admin for the human side: read-only lists (answers, votes, final labels, leases, history).

People's work is written through the app's services (blind answers, consensus, versions, audit
events); the admin shows it and never edits it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from annotator.admin import DatasetAdmin, ReadOnlyAdmin
from annotator.models import Dataset
from review.models import Adjudication, Annotation, Assignment, AuditEvent, BinaryVote
from review.services import sampling


class ReviewDatasetAdmin(DatasetAdmin):
    """The machine side's dataset admin plus what people decide about a dataset (annotator
    never imports review, so the action is added here, in the registered admin's place)."""

    actions = ["select_human_checks"]

    @admin.action(
        description="Send the agreed-review share of agreed samples to people",
        permissions=["change"],
    )
    def select_human_checks(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        """What `manage.py select_human_checks` does, with each dataset's share and the
        default seed: the same samples every time, more of them when the share grows."""
        for dataset in queryset:
            try:
                report = sampling.select_human_checks(dataset=dataset, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{dataset.name}: {exc.messages[0]}", messages.ERROR)
            else:
                self.message_user(request, str(report), messages.SUCCESS)


admin.site.unregister(Dataset)
admin.site.register(Dataset, ReviewDatasetAdmin)


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["sample", "annotator", "emotion", "value_number", "confidence", "source"]
    list_filter = ["source", "sample__dataset"]
    list_select_related = ["sample", "annotator"]
    search_fields = ["sample__external_id", "annotator__username"]
    show_full_result_count = False


@admin.register(BinaryVote)
class BinaryVoteAdmin(ReadOnlyAdmin):
    list_display = ["sample", "emotion", "annotator", "value", "source", "created_at"]
    list_filter = ["value", "source", "sample__dataset"]
    list_select_related = ["sample", "annotator"]
    search_fields = ["sample__external_id", "annotator__username", "emotion"]
    show_full_result_count = False


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnlyAdmin):
    list_display = ["sample", "version", "method", "emotion", "annotator", "reverted", "decided_at"]
    list_filter = ["method", "reverted", "sample__dataset"]
    list_select_related = ["sample", "annotator"]
    search_fields = ["sample__external_id", "annotator__username"]
    show_full_result_count = False


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["sample", "annotator", "kind", "status", "leased_at", "expires_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["sample", "annotator"]
    search_fields = ["sample__external_id", "annotator__username"]
    show_full_result_count = False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "sample", "actor"]
    list_filter = ["action"]
    list_select_related = ["sample", "actor"]
    search_fields = ["sample__external_id", "actor__username", "action"]
    show_full_result_count = False
