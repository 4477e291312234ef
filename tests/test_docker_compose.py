"""The deployment files, checked without Docker: docker/compose.yml against the Compose
Specification's JSON Schema (docker/schema/compose-spec.json), what a lab needs from it (bind
mounts, a configured GPU worker, a CPU worker without CUDA, healthchecks), the example pipeline
config, and the build context's ignore files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from annotator.pipeline.config import load_pipeline_config

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DOCKER / "schema" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification(compose, validator):
    assert _errors(validator, compose) == []


def test_the_schema_check_catches_a_misspelt_key_and_a_wrong_type(compose, validator):
    misspelt = copy.deepcopy(compose)
    misspelt["services"]["web"]["healthcheck"]["intervall"] = "30s"
    wrong_type = copy.deepcopy(compose)
    wrong_type["services"]["web"]["ports"] = "8000:8000"
    assert _errors(validator, misspelt) and _errors(validator, wrong_type)


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of each volume entry (short syntax)."""
    found = {}
    for entry in service.get("volumes", []):
        # "${IMAGES_DIR:-../data/images}:/images:ro": the source may hold colons itself.
        source, target = re.fullmatch(r"(.+):(/[^:]*)(?::ro|:rw)?", entry).groups()  # type: ignore[union-attr]
        found[target] = source
    return found


def test_images_exports_and_weights_are_bind_mounted_not_copied(compose):
    services = compose["services"]
    for name in ("web", "worker", "gpu-worker"):
        mounts = _mounts(services[name])
        assert mounts["/images"].startswith("${IMAGES_DIR:-"), name  # a host folder, read in place
        assert mounts["/exports"].startswith("${EXPORTS_DIR:-"), name
        assert mounts["/pipelines"].startswith("${PIPELINES_DIR:-"), name
        assert "/images" in services[name]["environment"]["IMPORT_ROOTS"].split(",")
        assert services[name]["environment"]["EXPORT_ROOT"] == "/exports"
    assert _mounts(services["gpu-worker"])["/models"].startswith("${MODELS_DIR:-")
    assert any(entry.endswith("/images:ro") for entry in services["web"]["volumes"])


def test_the_gpu_worker_gets_sam_grounding_keys_and_a_gpu(compose):
    gpu = compose["services"]["gpu-worker"]
    env = gpu["environment"]
    assert env["SEGMENTER"] == "${SEGMENTER:-sam}"
    assert env["SAM_CHECKPOINT"].startswith("/models/")
    assert env["SAM_DEVICE"] == "cuda"
    assert env["EMOREVIEW_PIPELINE_CONFIG"].startswith("/pipelines/")
    assert gpu["env_file"][0]["path"] == "${KEYS_FILE:-keys.env}"
    assert gpu["command"][:3] == ["worker", "-Q", "gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert gpu["image"] != compose["services"]["worker"]["image"]


def test_the_example_pipeline_reads_grounding_dino_from_the_mounted_weights():
    config = load_pipeline_config(path=DOCKER / "pipeline.example.toml")
    assert config.grounding.enabled
    for path in (config.grounding.config_path, config.grounding.checkpoint):
        assert path is not None and path.parts[:2] == ("/", "models")
    assert config.grounding.text_encoder == Path("/models/bert-base-uncased")
    endpoints = [*config.annotators.values(), *([config.critic] if config.critic else [])]
    keys = {endpoint.api_key_env for endpoint in endpoints}
    example = (DOCKER / "keys.env.example").read_text()
    assert all(f"\n{key}=" in example for key in keys if key)


def test_the_cpu_worker_is_built_with_cpu_torch(compose):
    worker = compose["services"]["worker"]
    assert worker["build"]["target"] == "ml"
    assert worker["build"]["args"]["TORCH_INDEX_URL"].endswith("/whl/cpu")
    assert "deploy" not in worker
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert 'ARG TORCH_INDEX_URL=""' in dockerfile
    assert '--index-url "$TORCH_INDEX_URL" torch torchvision' in dockerfile


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no":  # a job (migrate): runs once, others wait for it
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), name
    assert "/healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore line as a regex (Go filepath.Match plus `**`), anchored at the root."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _ignored(path: str, patterns: list[re.Pattern[str]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # a folder takes its files
    return any(p.match(prefix) for p in patterns for prefix in prefixes)


def _patterns(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_build_context_leaves_out_local_and_secret_files():
    root_lines = _patterns(ROOT / ".dockerignore")
    assert root_lines == _patterns(DOCKER / "Dockerfile.dockerignore")  # both builders agree
    patterns = [_ignore_regex(line) for line in root_lines]
    left_out = [
        ".venv/bin/python", ".git/config", "data/secret_key", "data/emoreview.sqlite3",
        "data/images/a.jpg", "docker/keys.env", ".env", "review/__pycache__/x.pyc",
        "deploy/tls.key", "staticfiles/app.css",
    ]  # fmt: skip
    kept = [
        "manage.py", "annotator/demo/images/beach.jpg", "annotator/demo/samples.jsonl",
        "docker/keys.env.example", "docker/entrypoint.sh", "static/js/htmx.min.js",
        "pyproject.toml", "constraints.txt",
    ]  # fmt: skip
    assert [p for p in left_out if not _ignored(p, patterns)] == []
    assert [p for p in kept if _ignored(p, patterns)] == []
