"""Settings for a worker process the export kill test (tests/integration/test_export_faults.py)
SIGKILLs in the middle of an export job: its CSV writer sleeps EXPORT_FAULT_CHUNK_SECONDS per
chunk (tests/support/export_faults.py, imported by the worker once Django is set up), so the job
is still being written when the kill lands. The bytes are the real CSV export's."""

from annotator.settings import *  # noqa: F403

CELERY_IMPORTS = ["tests.support.export_faults"]
