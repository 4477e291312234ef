"""`python manage.py demo`: migrate, demo accounts (with their review roles) and dataset (with
stand-in DES vectors), its consensus fit and DES map, then serve on 127.0.0.1:8000. In review:
the accounts are people with roles (annotator never imports review)."""

from __future__ import annotations

import warnings
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.services.demo import (
    DEMO_DATASET,
    DEMO_OVERLAP_K,
    DemoAccount,
    import_demo_dataset,
    reset_demo_account,
)
from annotator.services.importing import ImportFailed
from review.roles import ADJUDICATOR, ANNOTATOR
from review.services.demo_setup import DemoFigures, prepare_demo_figures

ROLE_TEXT = {
    "annotator": "annotator: answers the samples handed out",
    "reviewer": "adjudicator: the queue of disputed samples, decides them",
    "admin": "every role: annotate, adjudicate, audit; imports, exports, /admin/",
}


class Command(BaseCommand):
    help = (
        "Set up the demo (migrate; accounts 'annotator', 'reviewer' and 'admin' with new random "
        "passwords; the bundled demo dataset with stand-in DES vectors, its consensus fit and "
        "DES map) and serve it with Django's development server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr",
            default="127.0.0.1:8000",
            help="address:port to serve on (default 127.0.0.1:8000); another host name must "
            "also be listed in ALLOWED_HOSTS",
        )
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then exit")

    def handle(self, *args: Any, addr: str, no_serve: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        try:
            report = import_demo_dataset()
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        figures = prepare_demo_figures(dataset_name=DEMO_DATASET)
        accounts = [
            reset_demo_account(username="annotator", is_admin=False, roles=(ANNOTATOR,)),
            reset_demo_account(username="reviewer", is_admin=False, roles=(ADJUDICATOR,)),
            reset_demo_account(username="admin", is_admin=True),
        ]
        self._print_summary(addr, str(report), figures, accounts)
        if not no_serve:
            # WhiteNoise serves static/ through its finders here; its note that collectstatic's
            # STATIC_ROOT does not exist is noise for the demo.
            warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
            call_command("runserver", addr, use_reloader=False)

    def _print_summary(
        self, addr: str, report: str, figures: DemoFigures, accounts: list[DemoAccount]
    ) -> None:
        url = f"http://{addr if ':' in addr else f'127.0.0.1:{addr}'}/"
        lines = [
            "",
            self.style.SUCCESS("EmoReview demo is ready."),
            f"  Dataset 'demo': {report}",
            f"  Overlap k = {DEMO_OVERLAP_K}: one answer decides a disputed sample, so the "
            "annotator can finish the flow alone (Start reviewing = the next sample).",
            f"  {_describe(figures)}",
            "  The DES vectors are a stand-in computed from the pixels (a colour histogram and a "
            "grey thumbnail, randomly projected), not EmoVerse's DES.",
            "",
            "  Log in with (passwords are new on every run):",
        ]
        for account in accounts:
            role = ROLE_TEXT.get(account.username, "")
            lines.append(f"    {account.username:<10} {account.password}   ({role})")
        lines += ["", f"  Open {url}", ""]
        self.stdout.write("\n".join(lines))


def _describe(figures: DemoFigures) -> str:
    fit, des_map = figures.fit, figures.des_map
    fit_text = f"consensus fit {fit.method} {fit.status}" if fit else "no consensus fit"
    map_text = f"DES map {des_map.method} {des_map.status}" if des_map else "no DES map"
    return f"Ready on first visit: {fit_text}; {map_text}."
