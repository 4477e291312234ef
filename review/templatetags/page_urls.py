"""{% load page_urls %}{% page_url 'review:mask_edit' sample.pk state.role as edit_url %}: the
URL `{% url %}` gives, without resolving the pattern on every call. A page such as the sample
page reverses twenty-odd URLs that differ only in the sample's pk and an element's role; each
reverse() walks the resolver's possibilities, quotes and checks the candidate against the
pattern's regex. Here each (name, kinds of the arguments) is reversed once per process, script
prefix and URLconf with sentinel arguments, and the URL is the pieces around the sentinels
joined with the real values.

Only arguments whose reversed text is their own text take the fast way: non-negative ints, and
strings of lowercase ASCII letters and underscores (the element roles). Any other argument,
keyword arguments, or a pattern that does not take the sentinels, goes through reverse() as
`{% url %}` does, so the result is always reverse()'s."""

from __future__ import annotations

import re
from functools import lru_cache

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

register = template.Library()

# Sentinels: a nine-digit int and a word of lowercase letters (the most restrictive kinds the
# fast way allows); each must appear exactly once in the reversed URL for the pieces to be kept.
_INT_SENTINEL = 987654301
_WORD = re.compile(r"[a-z_]+\Z")


def _kind(value: object) -> str | None:
    """Kind "i" for a non-negative int, "w" for a lowercase word, None for anything else."""
    if type(value) is int and value >= 0:
        return "i"
    if type(value) is str and _WORD.match(value):
        return "w"
    return None


def _sentinel(kind: str, index: int) -> str | int:
    if kind == "i":
        return _INT_SENTINEL + index
    return "zqsentinel" + "abcdefghij"[index] + "zq"


@lru_cache(maxsize=512)
def _pieces(
    name: str, kinds: tuple[str, ...], prefix: str, urlconf: str | None, root: str
) -> tuple[str, ...] | None:
    """The reversed URL split around each argument, or None when it cannot be split safely.
    prefix, urlconf and root key the cache only (reverse() reads them itself)."""
    sentinels = [str(_sentinel(kind, i)) for i, kind in enumerate(kinds)]
    try:
        url = reverse(name, args=[_sentinel(kind, i) for i, kind in enumerate(kinds)])
    except NoReverseMatch:
        return None
    pieces = []
    rest = url
    for s in sentinels:
        if url.count(s) != 1:
            return None
        head, _, rest = rest.partition(s)
        pieces.append(head)
    pieces.append(rest)
    return tuple(pieces)


def page_url(name: str, *args: object) -> str:
    """reverse(name, args=args), from cached pieces where the arguments allow it."""
    kinds = tuple(_kind(a) for a in args)
    if None not in kinds:
        key = (get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)
        pieces = _pieces(name, kinds, *key)
        if pieces is not None:
            out = [pieces[0]]
            for arg, piece in zip(args, pieces[1:], strict=True):
                out.append(str(arg))
                out.append(piece)
            return "".join(out)
    return reverse(name, args=args)


@register.simple_tag(name="page_url")
def page_url_tag(name: str, *args: object) -> str:
    """`{% url name arg ... %}` (positional arguments only), from cached pieces."""
    return page_url(name, *args)
