"""python manage.py analyze_stale_tables: beat's statistics check, run once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from annotator.services.planner_statistics import analyze_stale_tables


class Command(BaseCommand):
    help = (
        "ANALYZE the tables changed past autovacuum's thresholds since their last ANALYZE "
        "(PostgreSQL), or PRAGMA optimize (SQLite); what beat does every "
        "STATISTICS_CHECK_SECONDS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        names = analyze_stale_tables()
        if names:
            self.stdout.write(f"Analysed {len(names)} table(s): {', '.join(names)}")
        else:
            self.stdout.write("No table needed analysing.")
