from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotator.pipeline.config import (
    CONFIG_ENV_VAR,
    EndpointConfig,
    GroundingConfig,
    load_pipeline_config,
    parse_pipeline_config,
    resolve_config_path,
)
from annotator.pipeline.errors import PipelineConfigError

DOCS = Path(__file__).resolve().parents[3] / "docs" / "pipeline.md"

MINIMAL = """
[annotators.local]
base_url = "http://127.0.0.1:8000/v1"
model = "qwen2.5-vl"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(PipelineConfigError) as caught:
        load_pipeline_config(path=write(tmp_path, text))
    return caught.value.problems


def test_minimal_config_gets_the_documented_defaults(tmp_path):
    config = load_pipeline_config(path=write(tmp_path, MINIMAL))
    assert config.annotators == {
        "local": EndpointConfig(
            name="local", base_url="http://127.0.0.1:8000/v1", model="qwen2.5-vl"
        )
    }
    endpoint = config.annotators["local"]
    assert (endpoint.weight, endpoint.api_key_env, endpoint.timeout_s) == (1.0, None, 60.0)
    assert (endpoint.concurrency, endpoint.image_max_side, endpoint.temperature) == (4, 768, 0.0)
    assert endpoint.requests_per_minute is None and endpoint.tokens_per_minute is None
    assert config.critic is None
    assert config.grounding == GroundingConfig() and not config.grounding.enabled
    assert (config.critic_agreed_share, config.max_revise_rounds, config.classifier) == (
        0.0,
        1,
        "import",
    )


def test_full_config_with_defaults_overrides_critic_grounding_and_knobs(tmp_path):
    (tmp_path / "models").mkdir()
    text = """
[defaults]
timeout_s = 30
concurrency = 2

[annotators.gpt4o]
base_url = "https://api.openai.com/v1/"
model = "gpt-4o"
api_key_env = "OPENAI_API_KEY"
weight = 1.5
requests_per_minute = 500
tokens_per_minute = 30000

[annotators."gemini-2.5"]
base_url = "https://generativelanguage.googleapis.com/v1beta/openai"
model = "gemini-2.5-flash"
api_key_env = "GEMINI_API_KEY"
concurrency = 8

[critic]
base_url = "https://api.openai.com/v1"
model = "o4-mini"
api_key_env = "OPENAI_API_KEY"
temperature = 1

[grounding]
config_path = "models/GroundingDINO_SwinT_OGC.py"
checkpoint = "models/groundingdino_swint_ogc.pth"
text_encoder = "models/bert-base-uncased"
box_threshold = 0.3
device = "cuda:1"

[pipeline]
critic_agreed_share = 0.1
max_revise_rounds = 2
"""
    config = load_pipeline_config(path=write(tmp_path, text))
    gpt, gemini = config.annotators["gpt4o"], config.annotators["gemini-2.5"]
    assert gpt.base_url == "https://api.openai.com/v1"  # trailing slash dropped
    assert (gpt.weight, gpt.timeout_s, gpt.concurrency, gpt.requests_per_minute) == (
        1.5,
        30.0,
        2,
        500,
    )
    assert (gemini.timeout_s, gemini.concurrency, gemini.weight) == (30.0, 8, 1.0)
    assert config.weights == {"gpt4o": 1.5, "gemini-2.5": 1.0}
    assert config.critic is not None
    assert (config.critic.model, config.critic.temperature, config.critic.timeout_s) == (
        "o4-mini",
        1.0,
        30.0,
    )
    grounding = config.grounding
    assert grounding.enabled
    assert grounding.config_path == (tmp_path / "models/GroundingDINO_SwinT_OGC.py").resolve()
    assert grounding.text_encoder == (tmp_path / "models/bert-base-uncased").resolve()
    assert (grounding.box_threshold, grounding.text_threshold, grounding.device) == (
        0.3,
        0.25,
        "cuda:1",
    )
    assert (config.critic_agreed_share, config.max_revise_rounds) == (0.1, 2)


def test_bad_value_names_file_line_and_key_path(tmp_path):
    text = MINIMAL + "weight = -1\n"
    path = tmp_path / "pipeline.toml"
    assert problems(tmp_path, text) == [f"{path}:5: annotators.local.weight: must be a number > 0"]


def test_every_problem_is_reported_at_once(tmp_path):
    text = """
[annotators.a]
model = "m"
base_url = "ftp://x"
temprature = 0.2
concurrency = 0

[critic]
base_url = "http://localhost:11434/v1"
model = "llava"
weight = 2

[pipeline]
critic_agreed_share = 1.5
max_revise_rounds = true
"""
    found = problems(tmp_path, text)
    path = tmp_path / "pipeline.toml"
    assert f"{path}:4: annotators.a.base_url: must be an http:// or https:// URL" in found
    assert any(
        p.startswith(f"{path}:5: annotators.a.temprature: unknown key (known:") for p in found
    )
    assert f"{path}:6: annotators.a.concurrency: must be an integer >= 1 and <= 256" in found
    assert any(p.startswith(f"{path}:11: critic.weight: unknown key") for p in found)
    assert f"{path}:14: pipeline.critic_agreed_share: must be a number >= 0 and <= 1" in found
    assert f"{path}:15: pipeline.max_revise_rounds: must be an integer >= 0 and <= 10" in found
    assert len(found) == 6


def test_an_api_key_in_place_of_its_variable_name_is_refused(tmp_path):
    found = problems(tmp_path, MINIMAL + 'api_key_env = "sk-proj-abc123"\n')
    assert len(found) == 1
    assert "annotators.local.api_key_env: must name the environment variable" in found[0]
    assert "sk-proj" not in found[0]  # never echo a secret


def test_required_keys_and_at_least_one_annotator(tmp_path):
    found = problems(tmp_path, '[annotators.a]\nmodel = "m"\n')
    assert found == [f"{tmp_path / 'pipeline.toml'}:1: annotators.a.base_url: is required"]
    assert problems(tmp_path, "[pipeline]\nmax_revise_rounds = 1\n") == [
        f"{tmp_path / 'pipeline.toml'}: annotators: at least one [annotators.<name>] table "
        "is required"
    ]


def test_grounding_needs_config_and_checkpoint_together(tmp_path):
    found = problems(tmp_path, MINIMAL + '[grounding]\ncheckpoint = "w.pth"\n')
    assert found == [
        f"{tmp_path / 'pipeline.toml'}:5: grounding: config_path and checkpoint go together: "
        "set both or none"
    ]


def test_invalid_toml_names_the_file_and_line(tmp_path):
    found = problems(tmp_path, MINIMAL + "weight = = 2\n")
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'pipeline.toml'}: invalid TOML:")
    assert "line 5" in found[0]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(PipelineConfigError, match=re.escape(str(tmp_path / "nope.toml"))):
        load_pipeline_config(path=tmp_path / "nope.toml")


def test_config_path_comes_from_the_flag_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CONFIG_ENV_VAR, str(tmp_path / "env.toml"))
    assert resolve_config_path(explicit=tmp_path / "flag.toml") == tmp_path / "flag.toml"
    assert resolve_config_path() == tmp_path / "env.toml"
    monkeypatch.delenv(CONFIG_ENV_VAR)
    with pytest.raises(PipelineConfigError, match=CONFIG_ENV_VAR):
        resolve_config_path()


def test_the_documented_example_loads(tmp_path):
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert blocks, "docs/pipeline.md has no ```toml example"
    config = load_pipeline_config(path=write(tmp_path, blocks[0]))
    assert {"gpt4o", "gemini", "local"} <= set(config.annotators)
    assert config.critic is not None and config.grounding.enabled


def test_toml_nested_past_the_recursion_limit_is_a_config_error():
    # tomllib recurses once per level: this was a RecursionError (a 500 from an upload).
    text = "x = " + "[" * 100_000 + "]" * 100_000
    with pytest.raises(PipelineConfigError, match=r"deep\.toml: invalid TOML: nested too deeply"):
        parse_pipeline_config(text=text, path=Path("deep.toml"))


def test_prices_and_budget(tmp_path):
    text = MINIMAL + (
        "input_price_per_mtok = 2.5\noutput_price_per_mtok = 10\n[pipeline]\nbudget = 150.0\n"
    )
    config = load_pipeline_config(path=write(tmp_path, text))
    local = config.annotators["local"]
    assert (local.input_price_per_mtok, local.output_price_per_mtok) == (2.5, 10.0)
    assert local.mean_reply_tokens == 500 and config.budget == 150.0
    assert load_pipeline_config(path=write(tmp_path, MINIMAL)).budget is None
    found = problems(tmp_path, MINIMAL + "input_price_per_mtok = -1\n[pipeline]\nbudget = 0\n")
    assert any(
        p.endswith("annotators.local.input_price_per_mtok: must be a number >= 0") for p in found
    )
    assert any(":7: pipeline.budget: must be a number > 0" in p for p in found)
