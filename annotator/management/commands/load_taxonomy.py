"""python manage.py load_taxonomy PATH --name NAME [--description TEXT]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.services.importing import ImportFailed
from annotator.services.taxonomies import EMONET_FACE_40, read_taxonomy_file, save_taxonomy


class Command(BaseCommand):
    help = (
        "Create or replace an emotion taxonomy from EmoNet-Face's guide.json (labels, synonyms "
        "and groups) or from a text file with one label per line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="guide.json, or a .txt file of labels")
        parser.add_argument(
            "--name",
            default=None,
            help=f"taxonomy name (default: {EMONET_FACE_40} for a .json file, else the file stem)",
        )
        parser.add_argument("--description", default=None, help="shown in the admin")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        default = EMONET_FACE_40 if path.suffix.lower() == ".json" else path.stem
        name: str = options["name"] or default
        try:
            spec = read_taxonomy_file(path=path)
            taxonomy = save_taxonomy(name=name, spec=spec, description=options["description"])
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        except ValueError as exc:
            raise CommandError(f"{path.name}: {exc}") from exc
        self.stdout.write(
            f"Taxonomy {taxonomy.name}: {len(taxonomy.labels)} labels, "
            f"{sum(len(s) for s in taxonomy.synonyms.values())} synonyms, "
            f"{len(taxonomy.groups)} groups"
        )
