"""Versioned prompt files in annotator/prompts/: `<name>.v<N>.md`.

A file holds a system part and a user part, each introduced by a marker line
(`<!-- system -->`, `<!-- user -->`); placeholders are `$name` (string.Template), so JSON
examples in the text need no escaping. Outputs record `Prompt.version`, e.g. "annotate.v1".
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_FILE = re.compile(r"(?P<name>[a-z_]+)\.v(?P<number>\d+)\.md")
_MARKER = re.compile(r"^<!--\s*(system|user)\s*-->\s*$", re.MULTILINE)


class PromptError(LookupError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str  # "annotate.v1"
    system: str
    user: str

    def render_system(self, **values: object) -> str:
        return _render(self.system, self.version, values)

    def render_user(self, **values: object) -> str:
        return _render(self.user, self.version, values)


def _render(template: str, version: str, values: dict[str, object]) -> str:
    try:
        return string.Template(template).substitute({k: str(v) for k, v in values.items()})
    except (KeyError, ValueError) as exc:
        raise PromptError(f"prompt {version}: placeholder {exc} has no value") from exc


def available_versions(*, name: str, directory: Path = PROMPTS_DIR) -> list[str]:
    """Versions of one prompt, oldest first: ["annotate.v1", "annotate.v2"]."""
    found = []
    for path in directory.glob(f"{name}.v*.md"):
        match = _FILE.fullmatch(path.name)
        if match and match["name"] == name:
            found.append((int(match["number"]), path.name.removesuffix(".md")))
    return [version for _, version in sorted(found)]


@lru_cache(maxsize=64)
def load_prompt(*, name: str, version: str | None = None, directory: Path = PROMPTS_DIR) -> Prompt:
    """The named prompt at `version` ("annotate.v1" or "v1"), or its latest version."""
    versions = available_versions(name=name, directory=directory)
    if not versions:
        raise PromptError(f"no prompt files {name}.v<N>.md in {directory}")
    if version is None:
        chosen = versions[-1]
    else:
        chosen = version if version.startswith(f"{name}.") else f"{name}.{version}"
        if chosen not in versions:
            raise PromptError(f"prompt {chosen} not found (have: {', '.join(versions)})")
    text = (directory / f"{chosen}.md").read_text(encoding="utf-8")
    parts = _split(text)
    if "user" not in parts:
        raise PromptError(f"{directory / chosen}.md: no <!-- user --> part")
    return Prompt(name=name, version=chosen, system=parts.get("system", ""), user=parts["user"])


def _split(text: str) -> dict[str, str]:
    pieces = _MARKER.split(text)
    # pieces: [preamble, "system", body, "user", body, ...]; the preamble is a comment for people.
    return {pieces[i]: pieces[i + 1].strip() for i in range(1, len(pieces) - 1, 2)}
