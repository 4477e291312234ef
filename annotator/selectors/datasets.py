"""The one dataset lookup: by name, by id, or by a reference that is either (what a URL, an API
parameter or a --dataset option names). Views, the API and the commands of both apps use it;
every dataset found brings its taxonomy along (its labels are read next)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from annotator.models import Dataset

MAX_ID = 2**63 - 1  # past this no id can match (and PostgreSQL answers a bigint overflow error)


def _datasets() -> QuerySet[Dataset]:
    return Dataset.objects.select_related("taxonomy")


def dataset_by_name(*, name: str) -> Dataset | None:
    return _datasets().filter(name=name).first()


def dataset_by_id(*, dataset_id: int) -> Dataset | None:
    if not 0 < dataset_id <= MAX_ID:
        return None
    return _datasets().filter(pk=dataset_id).first()


def dataset_by_ref(*, ref: str) -> Dataset | None:
    """By id when `ref` is all digits and some dataset has that id, else by name (so a name made
    only of digits is still found when no dataset has that id)."""
    found = dataset_by_id(dataset_id=int(ref)) if ref.isdecimal() and len(ref) < 20 else None
    return found or dataset_by_name(name=ref)


def first_dataset() -> Dataset | None:
    """The first dataset by name: what a page shows before one is chosen."""
    return _datasets().order_by("name").first()


def dataset_names() -> list[str]:
    return list(Dataset.objects.order_by("name").values_list("name", flat=True))


def unknown_dataset_message(*, name: str) -> str:
    """Why `name` found nothing, with the names that would (for a command line)."""
    known = ", ".join(dataset_names())
    return f"no dataset named {name!r} (known: {known or 'none'})"


def dataset_or_404(
    *, name: str | None = None, dataset_id: int | None = None, ref: str | None = None
) -> Dataset:
    """For views and the API: the dataset by name, id or reference (whichever is given), or a
    404 (which Django and DRF both answer as 'not found')."""
    if dataset_id is not None:
        found = dataset_by_id(dataset_id=dataset_id)
    elif ref is not None:
        found = dataset_by_ref(ref=ref)
    else:
        found = dataset_by_name(name=name or "")
    if found is None:
        raise Http404("No such dataset.")
    return found
