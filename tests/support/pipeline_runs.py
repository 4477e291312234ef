"""Pipeline-run fixtures for tests and the throughput bench: images, a dataset, a config TOML
pointing at the loopback OpenAI server, and scripted model behaviour.

`ScriptedModels` answers the loopback server's requests like the annotators and the critic
would, deciding by the sample's image: sample k has an image k pixels wider than the base, so
the reply for each sample is known in advance without the server knowing about samples.
"""

from __future__ import annotations

import base64
import io
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from tests.support.openai_server import (
    Behaviour,
    RecordedRequest,
    annotation_content,
    critic_content,
    reply,
)

BASE_WIDTH = 96
HEIGHT = 72
REVISE_MARK = "Follow these instructions from a reviewer"


def make_image(path: Path, index: int) -> tuple[int, int]:
    """A demo-like picture: a sky-and-ground background and a figure, `index` px wider."""
    width = BASE_WIDTH + index
    image = Image.new("RGB", (width, HEIGHT), (120 + index % 100, 170, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, HEIGHT * 2 // 3, width, HEIGHT], fill=(235, 235, 240))  # snow
    draw.ellipse([width // 2 - 8, 20, width // 2 + 8, 56], fill=(200, 40, 40))  # a person
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return width, HEIGHT


def make_pipeline_dataset(
    root: Path,
    *,
    count: int,
    name: str = "pipeline-test",
    boxes: bool = True,
    classifier: bool = False,
) -> Any:
    """A dataset of `count` pending samples with images under `root` (an allowed import root).

    `boxes`: every sample has an imported subject box (what the ground stage masks without
    Grounding DINO). `classifier`: each sample has an imported classifier distribution.
    """
    import hashlib

    from annotator.models import Dataset, Proposal, Region, Sample, Taxonomy
    from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS

    # get_or_create: a transaction=True test has flushed the taxonomy the migration seeds.
    taxonomy, _ = Taxonomy.objects.get_or_create(
        name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)}
    )
    dataset = Dataset.objects.create(name=name, taxonomy=taxonomy, images_root=str(root))
    for index in range(count):
        path = root / f"img-{index:04d}.png"
        width, height = make_image(path, index)
        sample = Sample.objects.create(
            dataset=dataset, external_id=f"img-{index:04d}", image_path=path.name, source="test",
            width=width, height=height,
            content_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
        )  # fmt: skip
        if boxes:
            Region.objects.create(
                sample=sample, role=Region.Role.SUBJECT, phrase="person",
                x1=width / 2 - 12, y1=14, x2=width / 2 + 12, y2=62, origin=Region.Origin.IMPORT,
            )  # fmt: skip
        if classifier:
            Proposal.objects.create(
                sample=sample, model_name="emovit", emotion="awe",
                distribution={"awe": 0.7, "fear": 0.3},
            )  # fmt: skip
    return dataset


def write_config(
    path: Path,
    *,
    base_url: str,
    annotators: tuple[str, ...] = ("gpt4o", "gemini"),
    critic: bool = True,
    timeout_s: float = 5.0,
    max_retries: int = 2,
    pipeline: dict[str, Any] | None = None,
    grounding: dict[str, str | float | int] | None = None,
) -> Path:
    lines = ["[defaults]", f"timeout_s = {timeout_s}", f"max_retries = {max_retries}", ""]
    for index, name in enumerate(annotators):
        lines += [
            f"[annotators.{name}]",
            f'base_url = "{base_url}"',
            f'model = "{name}-model"',
            f"weight = {1.0 + index / 10}",
            "",
        ]
    if critic:
        lines += ["[critic]", f'base_url = "{base_url}"', 'model = "critic-model"', ""]
    if grounding:
        lines.append("[grounding]")
        for key, value in grounding.items():
            number = isinstance(value, int | float)
            lines.append(f"{key} = {value!r}" if number else f'{key} = "{value}"')
        lines.append("")
    if pipeline:
        lines.append("[pipeline]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in pipeline.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sent_width(body: dict[str, Any]) -> int:
    """The width of the image in a chat request (images this small are sent as they are)."""
    urls = RecordedRequest(path="", headers={}, body=body).image_urls()
    data = base64.b64decode(urls[0].split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as image:
        return image.width


def is_critic(body: dict[str, Any]) -> bool:
    system = body.get("messages", [{}])[0].get("content", "")
    return isinstance(system, str) and system.startswith("You are the critic")


def default_emotion(index: int, model: str, revised: bool) -> str:
    """gpt4o says awe; gemini agrees on every third sample, else says fear (until revised)."""
    if model.startswith("gpt4o") or index % 3 == 0 or revised:
        return "awe"
    return "fear"


def default_verdict(index: int, round_: int) -> dict[str, Any]:
    """Every 5th sample (from 1) is dropped; from 2, revised once then preserved; else kept."""
    if index % 5 == 1:
        return critic_content(verdict="drop", emotion="", instructions="")
    if index % 5 == 2 and round_ == 0:
        return critic_content(verdict="revise", emotion="awe")
    return critic_content(verdict="preserve", emotion="awe", instructions="")


def expected_outcome(index: int) -> tuple[str, str]:
    """(status, critic verdict) of sample `index` once a run with the default ScriptedModels
    has finished (agreed samples never reach the critic)."""
    if index % 3 == 0:
        return "agreed", ""
    if index % 5 == 1:
        return "dropped", "drop"
    if index % 5 == 2:
        return "agreed", "revise"
    return "disputed", "preserve"


@dataclass
class ScriptedModels:
    """A responder for OpenAIServer(default=...): annotators and the critic by sample index."""

    emotion: Callable[[int, str, bool], str] = default_emotion
    verdict: Callable[[int, int], dict[str, Any]] = default_verdict
    critic_calls: Counter[int] = field(default_factory=Counter)
    annotate_calls: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any]) -> Behaviour:
        index = sent_width(body) - BASE_WIDTH
        if is_critic(body):
            with self._lock:
                round_ = self.critic_calls[index]
                self.critic_calls[index] += 1
            return reply(self.verdict(index, round_))
        with self._lock:
            self.annotate_calls[index] += 1
        revised = any(REVISE_MARK in _text(m) for m in body.get("messages", []))
        emotion = self.emotion(index, str(body.get("model", "")), revised)
        return reply(annotation_content(emotion=emotion, description=f"Sample {index}."))


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "") for p in content or [] if p.get("type") == "text")


def sample_index(external_id: str) -> int:
    match = re.search(r"(\d+)$", external_id)
    assert match, external_id
    return int(match.group(1))
