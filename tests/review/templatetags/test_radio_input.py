"""The radio_input filter writes each emotion option's <input> as the template loop over its
attributes wrote it (and as Django's input.html with attrs.html does)."""

from __future__ import annotations

import pytest
from django import forms
from django.template import Context, Template
from django.utils.safestring import mark_safe

from review.forms.answers import AdjudicationForm
from review.templatetags.plain_widgets import radio_input

LOOP = Template(
    '{% for radio in field %}{% with w=radio.data %}<input type="{{ w.type }}" '
    'name="{{ w.name }}" value="{{ w.value|stringformat:\'s\' }}"{% for k, v in w.attrs.items %}'
    "{% if v is not False %} {{ k }}{% if v is not True %}=\"{{ v|stringformat:'s' }}\""
    "{% endif %}{% endif %}{% endfor %}>{% endwith %}|{% endfor %}"
)
FILTER = Template(
    "{% load plain_widgets %}{% for radio in field %}{{ radio|radio_input }}|{% endfor %}"
)
LABELS = ["awe", "fear", 'q"<&>']


class Odd(forms.Form):
    choice = forms.ChoiceField(
        choices=[(1, "one"), ("a&b", "A"), (mark_safe("<s>"), "safe"), ("", "none")],
        widget=forms.RadioSelect(
            attrs={"data-x": 'a"<b>', "autofocus": True, "off": False, "n": 3, "s": mark_safe("&")}
        ),
    )


FIELDS = {
    "blank": lambda: AdjudicationForm(labels=LABELS)["emotion"],
    "initial": lambda: AdjudicationForm(labels=LABELS, initial={"emotion": "fear"})["emotion"],
    "bound": lambda: AdjudicationForm({"emotion": 'q"<&>'}, labels=LABELS)["emotion"],
    "prefixed": lambda: AdjudicationForm({"p-emotion": "awe"}, labels=LABELS, prefix="p")[
        "emotion"
    ],
    "odd": lambda: Odd({"choice": "a&b"})["choice"],
    "odd, no ids": lambda: Odd(auto_id=False)["choice"],
}


@pytest.mark.parametrize("name", FIELDS)
def test_each_option_is_written_as_the_template_loop_wrote_it(name):
    field = FIELDS[name]()
    expected = LOOP.render(Context({"field": field}))
    assert FILTER.render(Context({"field": field})) == expected
    assert expected.count("<input") == len(list(field))


def test_a_checked_option_says_so():
    field = AdjudicationForm(labels=LABELS, initial={"emotion": "fear"})["emotion"]
    written = [radio_input(radio) for radio in field]
    assert [" checked" in html for html in written] == [False, True, False]


@pytest.mark.parametrize("name", ["blank", "bound"])
def test_fields_named_picks_what_the_loop_with_a_name_test_picked(name):
    form = (
        AdjudicationForm(labels=LABELS)
        if name == "blank"
        else AdjudicationForm({"subject": "x" * 400}, labels=LABELS)
    )
    context = Context({"form": form})
    loop = Template(
        "{% for f in form %}{% if f.name == 'subject' or f.name == 'background' %}"
        "{{ f.name }}={{ f.errors }}|{% endif %}{% endfor %}"
    ).render(context)
    picked = Template(
        "{% load plain_widgets %}{% for f in form|fields_named:'subject background' %}"
        "{{ f.name }}={{ f.errors }}|{% endfor %}"
    ).render(context)
    assert picked == loop
    assert loop.startswith("background=")
