"""The Label Studio labeling config that matches our tasks: paste it into a project's
Settings → Labeling Interface → Code before importing the export (or send it as the project's
label_config through Label Studio's API)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from annotator.models import Dataset, Region
from review.labels import TRIPLET_FIELDS
from review.selectors.export_labelstudio import config_emotions, has_numeric_answers

# Control and object names: the tasks' results name them (from_name / to_name).
IMAGE = "image"
EMOTION = "emotion"
CONFIDENCE = "confidence"
VALUE = "value"  # a numeric answer (long-format imports); only when the dataset has some
NOTES = "notes"
TRIPLET = TRIPLET_FIELDS
DESCRIPTION = "description"
BOX = "box"
MASK = "mask"
CRITIC = "critic"
ROLE_COLOURS = {
    Region.Role.BACKGROUND: "#2f7ed8",
    Region.Role.ATTRIBUTE: "#e4a11b",
    Region.Role.SUBJECT: "#d9534f",
}


def labelstudio_config_xml(*, dataset: Dataset) -> str:
    """The config for `dataset`'s tasks: its taxonomy (and any other emotion its rows name) as
    choices, confidence 0-10, the B-A-S triplet, description and notes as text, boxes and
    brush masks labelled by B-A-S role, the critic's verdict shown above."""
    return build_config(
        emotions=config_emotions(dataset=dataset),
        numeric_answers=has_numeric_answers(dataset=dataset),
    )


def build_config(*, emotions: Sequence[str], numeric_answers: bool = False) -> str:
    choices = "\n".join(f"    <Choice value={quoteattr(e)}/>" for e in emotions)
    roles = "\n".join(
        f"    <Label value={quoteattr(role)} background={quoteattr(colour)}/>"
        for role, colour in ROLE_COLOURS.items()
    )
    value = (
        f'  <Header value="Numeric answer"/>\n  <Number name="{VALUE}" toName="{IMAGE}"/>\n'
        if numeric_answers
        else ""
    )
    texts = "\n".join(
        f'  <Header value="{name.capitalize()}"/>\n'
        f'  <TextArea name="{name}" toName="{IMAGE}" maxSubmissions="1" editable="true"/>'
        for name in (*TRIPLET, DESCRIPTION, NOTES)
    )
    return f"""<View>
  <Image name="{IMAGE}" value="${IMAGE}" zoom="true" zoomControl="true"/>
  <Header value="Critic"/>
  <Text name="{CRITIC}" value="${CRITIC}"/>
  <Header value="Emotion"/>
  <Choices name="{EMOTION}" toName="{IMAGE}" choice="single" showInline="true">
{choices}
  </Choices>
  <Header value="Confidence (0-10)"/>
  <Number name="{CONFIDENCE}" toName="{IMAGE}" min="0" max="10" step="0.5"/>
{value}{texts}
  <RectangleLabels name="{BOX}" toName="{IMAGE}">
{roles}
  </RectangleLabels>
  <BrushLabels name="{MASK}" toName="{IMAGE}">
{roles}
  </BrushLabels>
</View>
"""
