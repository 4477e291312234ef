"""The WSGI application (gunicorn imports it in each worker: docker/entrypoint.sh).

A worker gets ready before its first request: the URLconf and every view module imported, every
template of templates/ compiled (a fresh worker's first list took ~120 ms, its first sample
page ~30), then what it built so far frozen out of the garbage collector's view. Those ~165K
objects live as long as the worker; a full collection walked them all every few hundred
requests, a ~100 ms pause inside whichever request triggered it.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
application = get_wsgi_application()


def _ready_the_worker() -> None:
    from django.conf import settings
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (the import is the point)
    root = settings.BASE_DIR / "templates"
    for path in root.rglob("*.html"):  # the cached loader keeps each one compiled
        get_template(path.relative_to(root).as_posix())
    gc.collect()
    gc.freeze()


_ready_the_worker()
