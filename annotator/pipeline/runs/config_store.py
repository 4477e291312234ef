"""A run's PipelineConfig as JSON (PipelineRun.config) and back, parsed once per process.

Workers read the configuration the run started with, not the TOML file as it is now. The JSON
holds what the file said (endpoint URLs, models, the names of key variables), never a key.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

from annotator.pipeline.config import EndpointConfig, GroundingConfig, PipelineConfig

_GROUNDING_PATHS = ("config_path", "checkpoint", "text_encoder")


def config_to_json(config: PipelineConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    grounding = data["grounding"]
    for key in _GROUNDING_PATHS:
        if grounding[key] is not None:
            grounding[key] = str(grounding[key])
    return data


def config_from_json(data: dict[str, Any]) -> PipelineConfig:
    grounding = dict(data.get("grounding") or {})
    for key in _GROUNDING_PATHS:
        if grounding.get(key) is not None:
            grounding[key] = Path(grounding[key])
    critic = data.get("critic")
    # A run stored without a config (tests, runs from before configs were kept) has none.
    annotators = data.get("annotators") or {}
    return PipelineConfig(
        annotators={name: EndpointConfig(**values) for name, values in annotators.items()},
        critic=EndpointConfig(**critic) if critic else None,
        grounding=GroundingConfig(**grounding),
        critic_agreed_share=data.get("critic_agreed_share", 0.0),
        max_revise_rounds=data.get("max_revise_rounds", 1),
        classifier=data.get("classifier", "import"),
        budget=data.get("budget"),
    )


_cache: dict[str, PipelineConfig] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 32


def run_config(*, data: dict[str, Any]) -> PipelineConfig:
    """A run's configuration, parsed once per process. Keyed by its content, not the run's id
    (ids come round again after a database reset): equal configs give equal, hashable endpoints,
    so the adapters' caches (one client per endpoint) keep working across runs."""
    key = json.dumps(data, sort_keys=True)
    with _cache_lock:
        config = _cache.get(key)
        if config is None:
            if len(_cache) >= _CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            config = _cache[key] = config_from_json(data)
        return config
