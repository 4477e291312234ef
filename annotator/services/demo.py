"""The demo: accounts with fresh passwords and the bundled sample dataset.

The demo dataset sends each disputed sample to one person (overlap k = 1), so one annotator can
finish the flow alone; the reviewer adjudicates; the admin holds every role (annotator,
adjudicator, auditor). Every sample carries a stand-in DES computed from its pixels (demo_des).
"""

from __future__ import annotations

import json
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotator.models import Dataset
from annotator.services.demo_des import projection, stand_in_des
from annotator.services.importing import ImportReport, import_samples_file

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_SAMPLES = DEMO_DIR / "samples.jsonl"
DEMO_DATASET = "demo"
DEMO_OVERLAP_K = 1  # one answer decides: a single demo annotator completes the flow


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    is_admin: bool


def reset_demo_account(
    *, username: str, is_admin: bool, roles: tuple[str, ...] = ()
) -> DemoAccount:
    """Create the account, or give an existing one a new random password, admin or not, and
    the given review roles (groups; admins hold every role anyway)."""
    password = secrets.token_urlsafe(12)
    user_model = get_user_model()
    with transaction.atomic():
        user, _ = user_model.objects.get_or_create(username=username)
        user.is_active = True
        user.is_staff = is_admin
        user.is_superuser = is_admin
        user.set_password(password)
        user.save()
        user.groups.add(*Group.objects.filter(name__in=roles))
    return DemoAccount(username=username, password=password, is_admin=is_admin)


# What annotator/demo/LICENSES.md documents image by image; exports and the datasheet carry it.
DEMO_LICENCE = "Public domain / CC0 (per image: annotator/demo/LICENSES.md)"
DEMO_ATTRIBUTION = (
    "Photographs from scikit-image 0.26.0's sample data (skimage/data), re-encoded as JPEG; "
    "origins and photographers in annotator/demo/LICENSES.md."
)


def import_demo_dataset() -> ImportReport:
    """Import (or refresh: the importer updates by id) the bundled demo samples (k = 1), each
    with its stand-in DES (demo_des) added, through the importer like any EmoVerse file."""
    with tempfile.TemporaryDirectory(prefix="emoreview-demo-") as folder:
        path = Path(folder) / DEMO_SAMPLES.name
        path.write_text(samples_with_des(), encoding="utf-8")
        report = import_samples_file(path=path, dataset_name=DEMO_DATASET, images_root=DEMO_DIR)
    Dataset.objects.filter(name=DEMO_DATASET).update(
        overlap_k=DEMO_OVERLAP_K, licence=DEMO_LICENCE, attribution=DEMO_ATTRIBUTION
    )
    return report


def samples_with_des() -> str:
    """The bundled samples.jsonl with a "DES" field on every record (computed from its image)."""
    matrix = projection()
    lines = []
    for line in DEMO_SAMPLES.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            record["DES"] = stand_in_des(DEMO_DIR / record["image_path"], matrix=matrix)
            lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"
