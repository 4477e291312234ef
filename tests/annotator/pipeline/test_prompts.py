from __future__ import annotations

import pytest

from annotator.pipeline.prompts import PromptError, available_versions, load_prompt

PLACEHOLDERS: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "annotate": ({"labels": "awe, fear"}, {"instructions": ""}),
    "critic": (
        {"labels": "awe, fear"},
        {"width": 640, "height": 480, "proposals": "[]", "grounding": "[]"},
    ),
    "repair": ({}, {"problems": "- x"}),
}


@pytest.mark.parametrize("name", sorted(PLACEHOLDERS))
def test_every_shipped_prompt_renders_with_its_placeholders(name):
    prompt = load_prompt(name=name)
    assert prompt.version == available_versions(name=name)[-1]
    system_values, user_values = PLACEHOLDERS[name]
    system, user = prompt.render_system(**system_values), prompt.render_user(**user_values)
    assert "$" not in system + user
    assert user.strip()


def test_annotate_prompt_lists_the_taxonomy_and_asks_for_json():
    system = load_prompt(name="annotate", version="v1").render_system(labels="awe, fear")
    assert "exactly one of: awe, fear" in system
    assert "JSON" in system  # json_object mode requires the word in the messages


def write_prompt(directory, name, user="Hello $who"):
    (directory / name).write_text(f"notes\n<!-- system -->\nSys\n<!-- user -->\n{user}\n")


def test_latest_version_is_chosen_numerically(tmp_path):
    for version in ("v1", "v2", "v10"):
        write_prompt(tmp_path, f"greet.{version}.md")
    write_prompt(tmp_path, "greeting.v99.md")
    assert available_versions(name="greet", directory=tmp_path) == [
        "greet.v1",
        "greet.v2",
        "greet.v10",
    ]
    prompt = load_prompt(name="greet", directory=tmp_path)
    assert (prompt.version, prompt.system) == ("greet.v10", "Sys")
    assert load_prompt(name="greet", version="greet.v2", directory=tmp_path).version == "greet.v2"
    assert prompt.render_user(who="you") == "Hello you"


def test_unknown_version_and_missing_placeholder_are_errors(tmp_path):
    write_prompt(tmp_path, "greet.v1.md")
    with pytest.raises(PromptError, match=r"greet.v3 not found \(have: greet.v1\)"):
        load_prompt(name="greet", version="v3", directory=tmp_path)
    with pytest.raises(PromptError, match=r"greet\.v1: placeholder 'who' has no value"):
        load_prompt(name="greet", directory=tmp_path).render_user()
    with pytest.raises(PromptError, match="no prompt files"):
        load_prompt(name="absent", directory=tmp_path)
