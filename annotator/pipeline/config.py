"""The pipeline's TOML configuration: endpoints, critic, Grounding DINO, pipeline knobs.

See docs/pipeline.md for the reference. Errors name the file, the line when it can be found and
the key path ("pipeline.toml:7: annotators.gpt4o.weight: must be a number > 0"); every problem in
the file is reported at once.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotator.pipeline.config_files import decode_config, inside_dirs, read_config_file, too_large
from annotator.pipeline.errors import PipelineConfigError

CONFIG_ENV_VAR = "EMOREVIEW_PIPELINE_CONFIG"
# Proposal.model_name holds the annotator's name: keep it short and printable.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True)
class EndpointConfig:
    """One OpenAI-compatible chat endpoint (an annotator or the critic)."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    weight: float = 1.0
    timeout_s: float = 60.0
    max_retries: int = 3
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrency: int = 4
    image_max_side: int = 768
    temperature: float = 0.0
    # US dollars per million tokens (the provider's price list); None: the cost is not known.
    input_price_per_mtok: float | None = None
    output_price_per_mtok: float | None = None
    mean_reply_tokens: int = 500  # the estimate's reply size until replies are observed
    # "batch": requests go through the provider's Batch API (annotator/pipeline/batch.py).
    mode: str = "direct"
    batch_max_requests: int = 1000  # requests per submitted batch


@dataclass(frozen=True)
class GroundingConfig:
    config_path: Path | None = None
    checkpoint: Path | None = None
    text_encoder: Path | None = None  # a local BERT folder; run time has no hub access
    box_threshold: float = 0.35
    text_threshold: float = 0.25
    device: str = "auto"
    # Images are resized to this shorter side (longer side <= 1333) before detection, as
    # upstream does with 800; smaller is faster and coarser.
    image_short_side: int = 800

    @property
    def enabled(self) -> bool:
        return self.config_path is not None and self.checkpoint is not None


@dataclass(frozen=True)
class PipelineConfig:
    annotators: dict[str, EndpointConfig]
    critic: EndpointConfig | None = None
    grounding: GroundingConfig = field(default_factory=GroundingConfig)
    critic_agreed_share: float = 0.0
    max_revise_rounds: int = 1
    classifier: str = "import"
    budget: float | None = None  # US dollars per run; no new model call once spent

    @property
    def weights(self) -> dict[str, float]:
        return {name: endpoint.weight for name, endpoint in self.annotators.items()}


def resolve_config_path(*, explicit: str | Path | None = None) -> Path:
    """`--config` when given, else $EMOREVIEW_PIPELINE_CONFIG."""
    raw = str(explicit) if explicit else os.environ.get(CONFIG_ENV_VAR, "").strip()
    if not raw:
        raise PipelineConfigError([f"no pipeline config: pass --config or set {CONFIG_ENV_VAR}"])
    return Path(raw).expanduser()


def load_pipeline_config(*, path: Path, max_bytes: int | None = None) -> PipelineConfig:
    """The file at `path`: a regular file of at most `max_bytes` (PIPELINE_CONFIG_MAX_BYTES)."""
    text = read_config_file(path=path, max_bytes=max_bytes)
    return parse_pipeline_config(text=text, path=path)


def load_config_in_dirs(
    *, chosen: str, dirs: Sequence[Path], max_bytes: int | None = None
) -> tuple[PipelineConfig, Path]:
    """A config file chosen by name, only when it lies inside one of `dirs` once symlinks are
    resolved (never /dev/zero, a fifo, or a file elsewhere)."""
    path = inside_dirs(path=Path(chosen), dirs=dirs) if chosen else None
    if path is None:
        where = ", ".join(str(folder) for folder in dirs) or "none configured"
        problem = f"{chosen}: not a config file in PIPELINE_CONFIG_DIRS ({where})"
        raise PipelineConfigError([problem])
    return load_pipeline_config(path=path, max_bytes=max_bytes), path


def load_uploaded_config(*, name: str, size: int, chunk: bytes, max_bytes: int) -> PipelineConfig:
    """An uploaded config: `chunk` is at most max_bytes + 1 of it, `size` its announced size."""
    if size > max_bytes:
        raise PipelineConfigError([too_large(name, max_bytes)])
    text = decode_config(name=name, data=chunk, max_bytes=max_bytes)
    return parse_pipeline_config(text=text, path=Path(name))


def parse_pipeline_config(*, text: str, path: Path) -> PipelineConfig:
    """`text` as a config; `path` names it in messages (an uploaded file's name)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineConfigError([f"{path}: invalid TOML: {exc}"]) from exc
    except RecursionError as exc:  # tomllib recurses per nesting level: x = [[[[...]]]]
        raise PipelineConfigError([f"{path}: invalid TOML: nested too deeply"]) from exc
    reader = _Reader(path=path, text=text)
    config = reader.pipeline(data)
    if reader.problems:
        raise PipelineConfigError(reader.problems)
    return config


# --- field checks: each returns (value, problem) -------------------------------------------


def _number(low: float | None = None, high: float | None = None, *, above: bool = False):
    def check(value: Any) -> tuple[Any, str | None]:
        bound = f"> {low:g}" if above else f">= {low:g}" if low is not None else ""
        bound = f"{bound} and <= {high:g}" if high is not None else bound
        wanted = f"must be a number {bound}".rstrip()
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, wanted
        if low is not None and (value <= low if above else value < low):
            return None, wanted
        if high is not None and value > high:
            return None, wanted
        return float(value), None

    return check


def _integer(low: int, high: int | None = None):
    def check(value: Any) -> tuple[Any, str | None]:
        wanted = f"must be an integer >= {low}" + (f" and <= {high}" if high is not None else "")
        if isinstance(value, bool) or not isinstance(value, int):
            return None, wanted
        if value < low or (high is not None and value > high):
            return None, wanted
        return value, None

    return check


def _text(pattern: re.Pattern[str] | None = None, what: str = "a non-empty string"):
    def check(value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, str) or not value.strip():
            return None, f"must be {what}"
        if pattern is not None and not pattern.fullmatch(value.strip()):
            return None, f"must be {what}"
        return value.strip(), None

    return check


def _url(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return None, "must be an http:// or https:// URL"
    return value.rstrip("/"), None


def _env_name(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and value.startswith(("sk-", "AIza")):
        return None, "must name the environment variable that holds the key, never the key"
    return _text(_ENV_NAME, "an environment variable name such as OPENAI_API_KEY")(value)


Check = Callable[[Any], tuple[Any, str | None]]

_ENDPOINT_FIELDS: dict[str, Check] = {
    "base_url": _url,
    "model": _text(),
    "api_key_env": _env_name,
    "weight": _number(0, above=True),
    "timeout_s": _number(0, above=True),
    "max_retries": _integer(0, 20),
    "requests_per_minute": _integer(1),
    "tokens_per_minute": _integer(1),
    "concurrency": _integer(1, 256),
    "image_max_side": _integer(64, 4096),
    "temperature": _number(0, 2),
    "input_price_per_mtok": _number(0),
    "output_price_per_mtok": _number(0),
    "mean_reply_tokens": _integer(1, 100000),
    "mode": _text(re.compile("direct|batch"), 'one of "direct", "batch"'),
    "batch_max_requests": _integer(1, 50000),
}
_SHARED_FIELDS = set(_ENDPOINT_FIELDS) - {"base_url", "model", "api_key_env", "weight"}
_GROUNDING_FIELDS: dict[str, Check] = {
    "config_path": _text(what="a file path"),
    "checkpoint": _text(what="a file path"),
    "text_encoder": _text(what="a folder path"),
    "box_threshold": _number(0, 1),
    "text_threshold": _number(0, 1),
    "device": _text(_DEVICE, 'one of "auto", "cpu", "cuda", "cuda:N", "mps"'),
    "image_short_side": _integer(128, 2048),
}
_PIPELINE_FIELDS: dict[str, Check] = {
    "critic_agreed_share": _number(0, 1),
    "max_revise_rounds": _integer(0, 10),
    "classifier": _text(_NAME, "a classifier name such as import"),
    "budget": _number(0, above=True),
}
_TOP_LEVEL = {"defaults", "annotators", "critic", "grounding", "pipeline"}


@dataclass
class _Reader:
    path: Path
    text: str
    problems: list[str] = field(default_factory=list)

    def problem(self, keypath: str, message: str) -> None:
        line = _locate(self.text, keypath)
        where = f"{self.path}:{line}" if line else str(self.path)
        self.problems.append(f"{where}: {keypath}: {message}")

    def table(self, data: Mapping[str, Any], keypath: str) -> Mapping[str, Any]:
        value = data.get(keypath.rsplit(".", 1)[-1], {})
        if not isinstance(value, Mapping):
            self.problem(keypath, "must be a table")
            return {}
        return value

    def fields(
        self, table: Mapping[str, Any], keypath: str, checks: Mapping[str, Check]
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, raw in table.items():
            if key not in checks:
                known = ", ".join(sorted(checks))
                self.problem(f"{keypath}.{key}", f"unknown key (known: {known})")
                continue
            value, message = checks[key](raw)
            if message:
                self.problem(f"{keypath}.{key}", message)
            else:
                values[key] = value
        return values

    def endpoint(
        self, name: str, table: Mapping[str, Any], keypath: str, defaults: dict[str, Any]
    ) -> EndpointConfig | None:
        checks = dict(_ENDPOINT_FIELDS)
        if keypath == "critic":
            checks.pop("weight")  # the critic does not vote
        before = len(self.problems)
        values = {**defaults, **self.fields(table, keypath, checks)}
        for key in ("base_url", "model"):
            if key not in table:
                self.problem(f"{keypath}.{key}", "is required")
        if len(self.problems) > before:
            return None
        return EndpointConfig(name=name, **values)

    def annotators(
        self, data: Mapping[str, Any], defaults: dict[str, Any]
    ) -> dict[str, EndpointConfig]:
        tables = self.table(data, "annotators")
        if not tables and isinstance(data.get("annotators", {}), Mapping):
            self.problem("annotators", "at least one [annotators.<name>] table is required")
        result: dict[str, EndpointConfig] = {}
        for name, table in tables.items():
            keypath = f"annotators.{name}"
            if not _NAME.fullmatch(name):
                self.problem(keypath, "name must be letters, digits, '.', '_', ':' or '-'")
            elif not isinstance(table, Mapping):
                self.problem(keypath, "must be a table")
            elif endpoint := self.endpoint(name, table, keypath, defaults):
                result[name] = endpoint
        return result

    def grounding(self, data: Mapping[str, Any]) -> GroundingConfig:
        values = self.fields(self.table(data, "grounding"), "grounding", _GROUNDING_FIELDS)
        for key in ("config_path", "checkpoint", "text_encoder"):
            if key in values:  # relative paths are relative to the TOML file
                values[key] = (self.path.parent / Path(values[key]).expanduser()).resolve()
        if ("config_path" in values) != ("checkpoint" in values):
            self.problem("grounding", "config_path and checkpoint go together: set both or none")
        return GroundingConfig(**values)

    def pipeline(self, data: Mapping[str, Any]) -> PipelineConfig:
        for key in data:
            if key not in _TOP_LEVEL:
                self.problem(key, f"unknown key (known: {', '.join(sorted(_TOP_LEVEL))})")
        shared = {key: _ENDPOINT_FIELDS[key] for key in _SHARED_FIELDS}
        defaults = self.fields(self.table(data, "defaults"), "defaults", shared)
        annotators = self.annotators(data, defaults)
        critic = None
        if "critic" in data:
            critic = self.endpoint("critic", self.table(data, "critic"), "critic", defaults)
        knobs = self.fields(self.table(data, "pipeline"), "pipeline", _PIPELINE_FIELDS)
        return PipelineConfig(
            annotators=annotators, critic=critic, grounding=self.grounding(data), **knobs
        )


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def _locate(text: str, keypath: str) -> int | None:
    """The 1-based line of `keypath` in the TOML text: its `key =` line, else its own table
    header, else its parent table's header (a missing key)."""
    parts = keypath.split(".")
    table, key = ".".join(parts[:-1]), parts[-1]
    current = ""
    headers: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = ".".join(p.strip().strip("\"'") for p in header.group(1).split("."))
            headers.setdefault(current, number)
            continue
        if current == table and re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return headers.get(keypath) or headers.get(table)
