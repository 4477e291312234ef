from django.urls import path

from review.views import audit, blind, drafts, export, history, imports, masks, queue, runs, sample

app_name = "review"

urlpatterns = [
    path("", queue.queue_view, name="queue"),
    path("next/", queue.next_view, name="next"),
    path("samples/<int:pk>/", sample.sample_view, name="sample"),
    path("samples/<int:pk>/image/", sample.image_view, name="sample_image"),
    path("samples/<int:pk>/adjudicate/", sample.adjudicate_view, name="adjudicate"),
    path("samples/<int:pk>/answer/", sample.answer_view, name="answer"),
    path("samples/<int:pk>/blind-answer/", blind.blind_commit_view, name="blind_commit"),
    path("samples/<int:pk>/skip/", sample.skip_view, name="skip"),
    path("samples/<int:pk>/draft/", drafts.draft_view, name="draft"),
    path("samples/<int:pk>/history/", history.history_view, name="history"),
    path("samples/<int:pk>/undo/", history.undo_view, name="undo"),
    path("samples/<int:pk>/masks/<str:role>/edits/", masks.mask_edit_view, name="mask_edit"),
    path("samples/<int:pk>/masks/<str:role>/poll/", masks.mask_poll_view, name="mask_poll"),
    path("samples/<int:pk>/masks/<str:role>/undo/", masks.mask_undo_view, name="mask_undo"),
    path("samples/<int:pk>/masks/<str:role>/redo/", masks.mask_redo_view, name="mask_redo"),
    path("samples/<int:pk>/masks/<str:role>/choose/", masks.mask_choose_view, name="mask_choose"),
    path("samples/<int:pk>/masks/<str:role>/accept/", masks.mask_accept_view, name="mask_accept"),
    path("samples/<int:pk>/masks/<str:role>/mask.png", masks.mask_png_view, name="mask_png"),
    path("export/", export.export_view, name="export"),
    path("export/download/", export.download_view, name="export_download"),
    path("import/", imports.import_view, name="import"),
    path("runs/", runs.runs_view, name="runs"),
    path("runs/<int:pk>/", runs.run_detail_view, name="run_detail"),
    path("runs/<int:pk>/progress/", runs.run_progress_view, name="run_progress"),
    path("runs/<int:pk>/cancel/", runs.run_cancel_view, name="run_cancel"),
    path("samples/<int:pk>/restore/", runs.restore_sample_view, name="restore_sample"),
    path("audit/", audit.audit_view, name="audit"),
    path("audit/figures.json", audit.audit_json_view, name="audit_json"),
    path("audit/tables/<slug:table>/", audit.audit_table_view, name="audit_table"),
    path("audit/samples/", audit.audit_samples_view, name="audit_samples"),
]
