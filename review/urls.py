from django.urls import path

from review.views import export, imports, queue, sample

app_name = "review"

urlpatterns = [
    path("", queue.queue_view, name="queue"),
    path("next/", queue.next_view, name="next"),
    path("samples/<int:pk>/", sample.sample_view, name="sample"),
    path("samples/<int:pk>/image/", sample.image_view, name="sample_image"),
    path("samples/<int:pk>/adjudicate/", sample.adjudicate_view, name="adjudicate"),
    path("export/", export.export_view, name="export"),
    path("export/download/", export.download_view, name="export_download"),
    path("import/", imports.import_view, name="import"),
]
