"""Form fields written as Django's widget templates write them, without rendering those
templates: each field rendered through them builds a context and walks two or three templates,
which on the sample page cost more than the rest of its form. Text-like inputs and textareas
only; any other widget (or a localized field) is rendered the usual way."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BaseForm
from django.forms.boundfield import BoundField, BoundWidget
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, SafeString, mark_safe

register = template.Library()

WIDGETS = "django/forms/widgets/"
INPUTS = {f"{WIDGETS}{name}.html" for name in ("text", "number", "hidden", "email", "url")}
TEXTAREA = f"{WIDGETS}textarea.html"


def _attrs(attrs: dict[str, Any]) -> str:
    """attrs.html: `name` for True, `name="value"` otherwise, nothing for False."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


@register.filter(name="fields_named")
def fields_named(form: BaseForm, names: str) -> list[BoundField]:
    """The form's fields named in `names` (space-separated), in the form's order, as
    `{% for field in form %}{% if field.name == ... %}` picks them, without a template pass
    for each other field."""
    wanted = names.split()
    return [form[name] for name in form.fields if name in wanted]


@register.filter(name="plain")
def plain(field: BoundField) -> SafeString:
    """`{{ field }}`, the same HTML (BoundField.as_widget with input.html or textarea.html)."""
    widget = field.field.widget
    if widget.template_name not in INPUTS | {TEXTAREA} or field.field.localize:
        return mark_safe(str(field))  # Django's own rendering, already escaped
    attrs = field.build_widget_attrs({}, widget)
    if field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", field.auto_id)
    w = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    name, value = conditional_escape(w["name"]), w["value"]
    if widget.template_name == TEXTAREA:
        text = conditional_escape(value) if value else ""
        html = f'<textarea name="{name}"{_attrs(w["attrs"])}>\n{text}</textarea>'
        return mark_safe(html)  # every value in it is escaped
    shown = "" if value is None else f' value="{conditional_escape(str(value))}"'
    html = (
        f'<input type="{conditional_escape(w["type"])}" name="{name}"{shown}{_attrs(w["attrs"])}>'
    )
    return mark_safe(html)  # every value in it is escaped


def _as_formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: str() of it, escaped unless it was safe already."""
    text = str(value)
    return text if isinstance(value, SafeData) else escape(text)


@register.filter(name="radio_input")
def radio_input(radio: BoundWidget) -> SafeString:
    """One radio option's <input> as the radio widget's input.html with attrs.html writes it
    (and as _label_fields.html wrote it with a loop over the attributes): for each option of
    the emotion grid, a Python pass instead of a template loop per attribute."""
    w = radio.data
    html = (
        f'<input type="{conditional_escape(w["type"])}" name="{conditional_escape(w["name"])}"'
        f' value="{_as_formatted(w["value"])}"{_attrs(w["attrs"])}>'
    )
    return mark_safe(html)  # every value in it is escaped
