from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_builtin_rows(**kwargs: Any) -> None:
    from annotator.services.taxonomies import ensure_mikels8

    ensure_mikels8()


class AnnotatorConfig(AppConfig):
    name = "annotator"
    verbose_name = "Machine annotations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The data migration seeds Mikels 8, but `flush` (manage.py flush, transactional tests)
        # empties tables without re-running migrations; it does emit post_migrate.
        post_migrate.connect(_ensure_builtin_rows, sender=self)
