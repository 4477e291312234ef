"""{% page_url %} gives reverse()'s URL for every name the pages use, whatever the pk, role,
script prefix or URLconf; arguments it cannot splice go through reverse() itself."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.urls.base import set_script_prefix

from review.templatetags.page_urls import page_url

PKS = [0, 1, 7, 42, 987654301, 987654302, 10**12]
ROLES = ["background", "attribute", "subject", "a", "zqsentinelazq", "zz_top"]


def _routes():
    """(name, converter names) of every named URL, namespaced as reverse() takes it."""
    found = []

    def walk(patterns, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace
                walk(p.url_patterns, f"{namespace}{ns}:" if ns else namespace)
            elif isinstance(p, URLPattern) and p.name:
                kinds = [type(c).__name__ for c in p.pattern.converters.values()]
                found.append((namespace + p.name, kinds))

    walk(get_resolver().url_patterns, "")
    return found


def _args(kinds):
    """Argument tuples for a route's converters (ints and strings only)."""
    if kinds == []:
        return [()]
    if kinds == ["IntConverter"]:
        return [(pk,) for pk in PKS]
    if kinds == ["IntConverter", "StringConverter"]:
        return [(pk, role) for pk in PKS[:3] for role in ROLES]
    return []


@pytest.fixture
def prefix():
    yield
    set_script_prefix("/")


@pytest.mark.parametrize("script_prefix", ["/", "/emo/", "/a b/"])
def test_every_route_gives_what_reverse_gives(prefix, script_prefix):
    set_script_prefix(script_prefix)
    checked = 0
    for name, kinds in _routes():
        for args in _args(kinds):
            try:
                expected = reverse(name, args=args)
            except NoReverseMatch:
                with pytest.raises(NoReverseMatch):
                    page_url(name, *args)
                continue
            assert page_url(name, *args) == expected, (name, args)
            checked += 1
    assert checked > 100


def test_the_sample_page_names_are_spliced_and_right(prefix):
    set_script_prefix("/sub/")
    for pk in PKS:
        assert page_url("review:sample", pk) == f"/sub/review/samples/{pk}/"
        for role in ROLES:
            assert page_url("review:mask_accept", pk, role) == reverse(
                "review:mask_accept", args=[pk, role]
            )


@pytest.mark.parametrize(
    "args",
    [
        (-1, "subject"),  # the int converter takes no sign: reverse() refuses it
        ("3", "subject"),  # a string pk
        (True, "subject"),
        (3, "Subject"),  # not a lowercase word
        (3, "a b"),  # quoted by reverse()
        (3, "a/b"),  # the str converter takes no slash
        (3, "é"),
        (3, ""),
    ],
)
def test_arguments_it_cannot_splice_go_through_reverse(args):
    try:
        expected = reverse("review:mask_edit", args=args)
    except NoReverseMatch:
        with pytest.raises(NoReverseMatch):
            page_url("review:mask_edit", *args)
    else:
        assert page_url("review:mask_edit", *args) == expected


def test_a_changed_urlconf_is_not_served_from_the_cache():
    before = page_url("review:sample", 5)
    with override_settings(ROOT_URLCONF="tests.review.templatetags.prefixed_urls"):
        assert page_url("review:sample", 5) == "/elsewhere/review/samples/5/"
    assert page_url("review:sample", 5) == before


def test_the_tag_writes_what_the_url_tag_writes():
    context = Context({"pk": 12, "role": "subject", "name": "review:mask_undo"})
    ours = Template(
        "{% load page_urls %}{% page_url name pk role %}|{% page_url 'review:queue' %}"
        "|{% page_url 'review:mask_poll' pk role as u %}{{ u }}"
    ).render(context)
    django = Template(
        "{% url name pk role %}|{% url 'review:queue' %}"
        "|{% url 'review:mask_poll' pk role as u %}{{ u }}"
    ).render(context)
    assert ours == django
