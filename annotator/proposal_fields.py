"""What replacing a model's proposal of a sample rewrites: the fields an import line or a
pipeline run gives, never the row's identity (sample, model) or creation time.

`distribution` is left out: the classifier stage attaches its distribution to a proposal row
that may be another model's (annotator.pipeline.runs.stages), and a re-import or a new VLM
answer must not wipe it. `prompt_version` is in: a proposal replaced from a file has none, and
the old run's version would no longer describe it.
"""

PROPOSAL_FIELDS = [
    "description",
    "emotion",
    "confidence",
    "background",
    "attribute",
    "subject",
    "prompt_version",
    "raw",
    "updated_at",
]
