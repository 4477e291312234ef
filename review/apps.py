from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_builtin_rows(**kwargs: Any) -> None:
    from review.services import des_map_changes, sample_loads
    from review.services.queue_counts import install_and_recount
    from review.services.roles import ensure_role_groups

    ensure_role_groups()
    using = kwargs.get("using", "default")
    # Triggers a SQLite table rebuild dropped, rows a flush left: see services.queue_counts,
    # services.sample_loads and services.des_map_changes.
    install_and_recount(using=using)
    sample_loads.install_and_recount(using=using)
    des_map_changes.reinstall(using=using)


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Human review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The role groups come from a data migration; `flush` removes them without re-running
        # migrations but does emit post_migrate, so put them back then.
        post_migrate.connect(_ensure_builtin_rows, sender=self)
        _register_hooks()


def _register_hooks() -> None:
    """What annotator asks of the human side without importing it (it never imports review)."""
    from annotator.services.audit_log import register_audit_writer
    from annotator.services.taxonomies import register_label_source
    from review.selectors.label_use import labels_people_gave
    from review.services.history import record_machine_entries

    register_label_source(labels_people_gave)
    register_audit_writer(record_machine_entries)
