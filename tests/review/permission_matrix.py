"""The permission matrix: who may do what, on which sample, read as a table (like CVAT's rule
tables). tests/review/test_policy_matrix.py sends a real request for every cell and fails
when a URL pattern of the project has no row here: a new URL is added to this table first.

Rows: one per URL pattern and method. `allow` maps a persona to the status it gets; every
persona left out is refused: web pages send anonymous people to the login page and answer 403
to the others, the API answers 401 and 403. `datasets` overrides `allow` on one kind of dataset.
`others` lists the personas whose answer shows the other people's answers and notes, `final`
those whose answer shows the final label's notes (checked on GET rows that have them).

Personas (the test's world builds each one):
  anonymous     signed out
  nobody        signed in, no role
  annotator     annotator, nothing of this sample
  leaseholder   annotator holding a lease on the sample, not answered yet (answers blind)
  answered      annotator who answered it; the label is final now
  skipped       annotator who skipped it without answering
  adjudicator   adjudicator (not the author of the current decision)
  auditor       auditor
  admin         admin (every role), no lease
  dual          annotator and adjudicator, holding a lease not answered yet
  admin_lease   admin holding a lease not answered yet

Datasets ("blind state"): plain (k = 2), machine_blind (k = 2, machines hidden until a first
answer), k1 (k = 1: one answer makes the label), open (k = 3, no final label yet: "answered"
may still change their answer, so they still see no one else's). The sample in each has
another person's answer (notes OTHERS_NOTE) and, except on open, a final label by another
adjudicator (version 1, notes FINAL_NOTE).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PERSONAS = (
    "anonymous",
    "nobody",
    "annotator",
    "leaseholder",
    "answered",
    "skipped",
    "adjudicator",
    "auditor",
    "admin",
    "dual",
    "admin_lease",
)
DATASETS = ("plain", "machine_blind", "k1", "open")
UNDECIDED = frozenset({"open"})  # no final label there
OTHERS_NOTE = "others-answer-note-7f3a"
FINAL_NOTE = "final-label-note-91c2"
LOGIN = "login"  # a redirect to the login page
# A status code, LOGIN, or the set of answers that are all right (a health check: 200 or 503).
Status = int | str | frozenset[int]

# URL arguments a row needs: the sample, an element of its masks, a pipeline run, a table.
SAMPLE = "sample"
MASK = "mask"
RUN = "run"
TABLE = "table"
DATASET = "dataset"  # the sample's dataset, by id
JOB = "job"  # a pending export job of the sample's dataset
NONE = "none"


@dataclass(frozen=True)
class Row:
    url: str  # the URL name ("review:sample"), or "admin:*" for Django's admin site
    method: str
    allow: Mapping[str, Status]
    args: str = NONE
    data: Mapping[str, Any] = field(default_factory=dict)
    query: str = ""
    datasets: Mapping[str, Mapping[str, Status]] = field(default_factory=dict)
    others: frozenset[str] = frozenset()
    final: frozenset[str] = frozenset()

    @property
    def api(self) -> bool:
        return self.url.startswith("api:")

    @property
    def per_sample(self) -> bool:
        return self.args in (SAMPLE, MASK)

    def expected(self, persona: str, dataset: str = "plain") -> Status:
        allow = {**self.allow, **self.datasets.get(dataset, {})}
        if persona in allow:
            return allow[persona]
        if persona == "anonymous":
            return 401 if self.api else LOGIN
        return 403


def every(status: Status) -> dict[str, Status]:
    return dict.fromkeys(PERSONAS, status)


def some(status: Status, *personas: str) -> dict[str, Status]:
    return dict.fromkeys(personas, status)


SIGNED_IN = tuple(p for p in PERSONAS if p != "anonymous")
ANNOTATORS = ("annotator", "leaseholder", "answered", "skipped", "dual", "admin", "admin_lease")
ADJUDICATORS = ("adjudicator", "admin", "dual", "admin_lease")
AUDITORS = ("auditor", "admin", "admin_lease")
ADMINS = ("admin", "admin_lease")
SEE_ALL = frozenset({"adjudicator", "auditor", "admin"})  # not while answering blind
# Whoever may open the sample page: it is theirs (a lease, an answer, a skip) or they judge it.
VIEWERS = ("leaseholder", "answered", "skipped", "adjudicator", "auditor", "admin", "dual",
           "admin_lease")  # fmt: skip
# Mask readers: the viewers, except those the machines are hidden from (machine-blind, no
# answer yet: the leaseholders, and the annotator who skipped without answering).
BLIND_TO_MACHINES = ("leaseholder", "skipped", "dual", "admin_lease")
MASK_EDITORS = ("leaseholder", "answered", "adjudicator", "admin", "dual", "admin_lease")

BY_NAME = "?dataset={dataset_name}"  # the API's audit takes the dataset's name
LABEL = {"emotion": "fear", "confidence": "6", "background": "", "attribute": "", "subject": ""}


# On the machine-blind dataset the machines' masks are refused to BLIND_TO_MACHINES.
HIDDEN = {"machine_blind": some(403, *BLIND_TO_MACHINES)}
LEASEHOLDERS = ("leaseholder", "dual", "admin_lease")


ROWS: tuple[Row, ...] = (
    # --- the site, sign-in, Django's admin --------------------------------------------------
    Row("", "get", every(302)),
    Row("healthz", "get", every(frozenset({200, 503}))),  # public: for operators
    Row("favicon", "get", every(301)),  # public: to the static SVG
    Row("login", "get", every(200)),
    Row("logout", "post", every(LOGIN)),
    Row("admin/login/", "get", every(LOGIN)),  # the admin signs in through the site's login
    Row("admin:*", "get", {**every(302), **some(200, *ADMINS)}),  # 302: the admin's login
    # --- queue and Next -----------------------------------------------------------------------
    # Annotators get their own work, adjudicators and auditors the whole queue.
    Row("review:queue", "get", some(200, *SIGNED_IN[1:])),
    Row("review:next", "get", some(302, *ANNOTATORS, "adjudicator")),
    # --- the sample page and what is done on it -------------------------------------------
    Row(
        "review:sample",
        "get",
        some(200, *VIEWERS),
        args=SAMPLE,
        others=SEE_ALL,
        final=frozenset({"adjudicator", "admin"}),  # shown beside the decision form
    ),
    Row("review:sample_image", "get", some(200, *VIEWERS), args=SAMPLE),
    Row(
        "review:answer",
        "post",
        {**some(302, *LEASEHOLDERS), "answered": 409},  # 409: their saved answer, shown
        args=SAMPLE,
        data=LABEL,
    ),
    Row(
        "review:blind_commit",
        "post",
        some(400, *LEASEHOLDERS),
        args=SAMPLE,
        data=LABEL,
        datasets={"machine_blind": some(302, *LEASEHOLDERS)},
    ),
    Row("review:skip", "post", some(302, *LEASEHOLDERS), args=SAMPLE),
    Row("review:take_back", "post", some(302, *ANNOTATORS), args=SAMPLE),
    # Open: their answer may change (409 here: the form's base version 1 is not current).
    Row(
        "review:change_answer",
        "post",
        {},
        args=SAMPLE,
        data={**LABEL, "base_version": "1"},
        datasets={"open": {"answered": 409}},
    ),
    Row(
        "review:adjudicate",
        "post",
        some(302, "adjudicator", "admin"),
        args=SAMPLE,
        data={**LABEL, "base_version": "1"},
        datasets={"open": some(409, "adjudicator", "admin")},  # no version 1 there
    ),
    Row(
        "review:draft",
        "post",
        some(302, "leaseholder", "adjudicator", "admin", "dual", "admin_lease"),
        args=SAMPLE,
        data=LABEL,
        datasets={"open": {"answered": 302}},  # a change of their answer
    ),
    Row(
        "review:history",
        "get",
        some(200, "adjudicator", "auditor", "admin", "dual", "admin_lease"),
        args=SAMPLE,
        others=SEE_ALL,
        final=SEE_ALL,
    ),
    # Open: nothing to undo (the page says so); "answered" is told to change their answer.
    Row(
        "review:undo",
        "post",
        some(302, "admin"),
        args=SAMPLE,
        data={"version": "1"},
        datasets={"open": some(302, "answered", "adjudicator")},
    ),
    # --- masks: the sample page's rules (review.policy) -------------------------------------
    Row(
        "review:mask_edit",
        "post",
        some(302, *MASK_EDITORS),
        args=MASK,
        data={"x": "10", "y": "10", "label": "1"},
        datasets=HIDDEN,
    ),
    Row(
        "review:mask_poll",
        "get",
        some(302, *VIEWERS),
        args=MASK,
        query="?edit=1",
        datasets=HIDDEN,
    ),
    Row("review:mask_undo", "post", some(409, *MASK_EDITORS), args=MASK, datasets=HIDDEN),
    Row("review:mask_redo", "post", some(409, *MASK_EDITORS), args=MASK, datasets=HIDDEN),
    Row(
        "review:mask_choose",
        "post",
        some(409, *MASK_EDITORS),
        args=MASK,
        data={"candidate": "0"},
        datasets=HIDDEN,
    ),
    Row("review:mask_accept", "post", some(409, *MASK_EDITORS), args=MASK, datasets=HIDDEN),
    Row("review:mask_png", "get", some(200, *VIEWERS), args=MASK, datasets=HIDDEN),
    # --- admin pages --------------------------------------------------------------------------
    Row("review:export", "get", some(200, *ADMINS)),
    Row("review:export_download", "get", some(400, *ADMINS), query="?scope=bogus"),
    # Export jobs (the web page's): JOB is running, so its files are not there yet (404).
    Row("review:export_start", "post", some(400, *ADMINS)),
    Row("review:export_job_progress", "get", some(200, *ADMINS), args=JOB),
    Row("review:export_job_cancel", "post", some(302, *ADMINS), args=JOB),
    Row("review:export_job_download", "get", some(404, *ADMINS), args=JOB),
    Row("review:import", "get", some(200, *ADMINS)),
    Row("review:runs", "get", some(200, *ADMINS)),
    Row("review:run_detail", "get", some(200, *ADMINS), args=RUN),
    Row("review:run_progress", "get", some(200, *ADMINS), args=RUN),
    Row("review:run_cancel", "post", some(302, *ADMINS), args=RUN),
    Row("review:restore_sample", "post", some(302, *ADMINS), args=SAMPLE),
    Row("review:restore_from_sample", "post", some(302, *ADMINS), args=SAMPLE),
    # --- audit --------------------------------------------------------------------------------
    Row("review:audit", "get", some(200, *AUDITORS)),
    Row("review:audit_json", "get", some(200, *AUDITORS)),
    Row("review:audit_table", "get", some(200, *AUDITORS), args=TABLE),
    Row("review:audit_samples", "get", some(400, *AUDITORS)),
    # The DES map (issue 14 §6), for auditors like the audit. No map exists here: its URLs
    # take the dataset's id as a map id and find none (404) once the role is checked.
    Row("review:des_map", "get", some(200, *AUDITORS)),
    Row("review:map_recompute", "post", some(302, *AUDITORS), args=DATASET),
    Row("review:map_points", "get", some(404, *AUDITORS), args=DATASET),
    Row("review:map_codes", "get", some(404, *AUDITORS), args=DATASET),
    Row("review:map_legend", "get", some(404, *AUDITORS), args=DATASET),
    Row("review:map_select", "post", some(404, *AUDITORS), args=DATASET),
    # The consensus (issue 14): its section's job state for auditors, its buttons for admins
    # (adopting needs a fit: none here, 404); a sample's raters' pulls by the page's blind
    # rule: whoever sees everything, or has answered it.
    Row("review:consensus_job", "get", some(200, *AUDITORS), query=BY_NAME),
    Row("review:consensus_refit", "post", some(302, *ADMINS), query=BY_NAME),
    Row("review:adopt_weights", "post", some(404, *ADMINS), query=BY_NAME),
    Row(
        "review:sample_consensus",
        "get",
        some(200, "answered", "adjudicator", "auditor", "admin"),
        args=SAMPLE,
    ),
    # --- the API ------------------------------------------------------------------------------
    Row("api:token", "post", every(400)),
    Row("api:queue", "get", some(200, *SIGNED_IN[1:])),
    # The sample is decided: leaseholders get their running lease, nothing waits for others.
    Row("api:next", "post", {**some(204, *ANNOTATORS, "adjudicator"), **some(200, *LEASEHOLDERS)}),
    Row(
        "api:sample",
        "get",
        some(200, *VIEWERS),
        args=SAMPLE,
        others=SEE_ALL,
        final=SEE_ALL | {"answered"},  # final for them: their answer can no longer change
    ),
    Row("api:sample_image", "get", some(200, *VIEWERS), args=SAMPLE),
    Row("api:answer", "post", some(201, *LEASEHOLDERS), args=SAMPLE, data=LABEL),
    Row("api:votes", "post", some(400, *LEASEHOLDERS), args=SAMPLE),
    Row("api:skip", "post", some(204, *LEASEHOLDERS), args=SAMPLE),
    Row(
        "api:adjudication",
        "get",
        some(200, "adjudicator", "auditor", "admin"),
        args=SAMPLE,
        final=SEE_ALL,
    ),
    Row(
        "api:adjudication",
        "post",
        some(201, "adjudicator", "admin"),
        args=SAMPLE,
        data={**LABEL, "base_version": "1"},
        datasets={"open": some(409, "adjudicator", "admin")},
    ),
    Row(
        "api:undo",
        "post",
        some(200, "admin"),
        args=SAMPLE,
        data={"version": "1"},
        datasets={"open": some(400, "adjudicator", "admin")},  # no decision to undo
    ),
    Row(
        "api:history",
        "get",
        some(200, "adjudicator", "auditor", "admin", "dual", "admin_lease"),
        args=SAMPLE,
        others=SEE_ALL,
        final=SEE_ALL,
    ),
    # Datasets: every team role (annotators need the ids /api/next/ takes); an annotator lists
    # only the samples handed to them.
    Row("api:datasets", "get", some(200, *SIGNED_IN[1:])),
    Row("api:dataset", "get", some(200, *SIGNED_IN[1:]), args=DATASET),
    Row("api:dataset_samples", "get", some(200, *SIGNED_IN[1:]), args=DATASET),
    # Exports: admins, as the Export page (409: the job has not finished; 400: no body).
    Row("api:exports", "get", some(200, *ADMINS)),
    Row("api:exports", "post", some(400, *ADMINS)),
    Row("api:export", "get", some(200, *ADMINS), args=JOB),
    Row("api:export", "delete", some(200, *ADMINS), args=JOB),
    Row("api:export_cancel", "post", some(200, *ADMINS), args=JOB),
    Row("api:export_download", "get", some(409, *ADMINS), args=JOB),
    Row("api:audit", "get", some(200, *AUDITORS), query=BY_NAME),
    Row("api:audit_table", "get", some(200, *AUDITORS), args=TABLE, query=BY_NAME),
    Row("api:audit_samples", "get", some(400, *AUDITORS)),
    # The schema and its docs page need sign-in (unless a setting opens them).
    Row("api:not_found", "get", every(404)),  # /api/ and any unknown /api/.../: JSON 404
    Row("api:schema", "get", {**every(200), "anonymous": 401}),
    Row("api:docs", "get", {**every(200), "anonymous": LOGIN}),
)
