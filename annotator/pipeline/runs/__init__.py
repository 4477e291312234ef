"""Pipeline runs: stages as units of work, their scheduling, execution and chaining.

- units.py: which units a run needs (pure): stage order, unit keys, the plan for one sample.
- config_store.py: the run's configuration as JSON (PipelineRun.config) and back.
- seeding.py: create or reset a run's StageResult rows; the units to start with.
- execution.py: claim one unit, run its stage, record the result, pick the units that follow.
- stages.py, grounding_stage.py: what each stage computes and writes.
- dispatch.py: hand units to Celery (broker) after commit; local.py: the in-process runner.

A unit is one StageResult row: one stage for one sample (and model, prompt version, round).
Stages of a sample run in order (annotate -> calibrate -> ground -> verify -> critic); the units
of one stage run in parallel (one annotate unit per annotator). Model adapters are imported only
inside the stage functions, so importing this package loads no model stack.
"""
