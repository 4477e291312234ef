"""Content-Security-Policy on every response; pages keep it: no style="" attributes, no inline
script, the one per-sample <style> carries the response's nonce; schema and docs need sign-in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from review.csp import policy_header
from review.roles import ADJUDICATOR, ANNOTATOR
from tests.factories import DatasetFactory, ProposalFactory, RegionFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split("; ")}


def test_policy_header_names_the_nonce():
    policy = {"default-src": ["'self'"], "style-src": ["'self'", "nonce"]}
    assert policy_header(policy, nonce="abc") == "default-src 'self'; style-src 'self' 'nonce-abc'"


@pytest.mark.parametrize("url", ["/accounts/login/", "/api/queue/", "/static/css/app.css", "/x/"])
def test_every_response_has_the_policy(client, url):
    policy = _policy(client.get(url))
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert policy["style-src"][0] == "'self'" and policy["style-src"][1].startswith("'nonce-")


def test_each_response_has_its_own_nonce(client):
    first, second = (_policy(client.get("/accounts/login/"))["style-src"][1] for _ in range(2))
    assert first != second


def test_report_only_switch(client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = True
    response = client.get("/accounts/login/")
    assert "Content-Security-Policy" not in response
    assert "default-src 'self'" in response["Content-Security-Policy-Report-Only"]


def _inline_problems(html: str, nonce: str) -> list[str]:
    problems = re.findall(r"<[^>]+\sstyle=\"[^>]*>", html)
    problems += re.findall(r"<[^>]+\son[a-z]+=[^>]*>", html)
    problems += [s for s in re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html)]
    problems += [s for s in re.findall(r"<style[^>]*>", html) if f'nonce="{nonce}"' not in s]
    return problems


def test_the_sample_page_keeps_the_policy(client, images_root):
    ds = DatasetFactory.create(images_root=str(images_root), overlap_k=1)
    sample = SampleFactory.create(dataset=ds, image_path="a.jpg", width=64, height=48)
    ProposalFactory.create(sample=sample)
    RegionFactory.create(sample=sample, phrase="hiker")
    person = member(ANNOTATOR, ADJUDICATOR)
    lease(sample, person)
    client.force_login(person)
    response = client.get(reverse("review:sample", args=[sample.pk]))
    assert response.status_code == 200
    nonce = _policy(response)["style-src"][1].removeprefix("'nonce-").removesuffix("'")
    html = response.content.decode()
    assert _inline_problems(html, nonce) == []
    assert ".image-panel .viewport { --w: 64; --h: 48; }" in html
    assert "box-label-1" in html
    assert '<meta name="htmx-config"' in html and '"includeIndicatorStyles": false' in html


def test_the_schema_and_docs_need_sign_in(settings):
    anonymous = Client()
    assert anonymous.get("/api/schema/").status_code == 401
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith(reverse("login"))
    settings.API_DOCS_PUBLIC = True
    assert anonymous.get("/api/schema/").status_code == 200
    assert anonymous.get("/api/docs/").status_code == 200


def test_the_docs_page_style_carries_the_nonce():
    client = Client()
    client.force_login(member(ANNOTATOR))
    response = client.get("/api/docs/")
    nonce = _policy(response)["style-src"][1].removeprefix("'nonce-").removesuffix("'")
    assert _inline_problems(response.content.decode(), nonce) == []


TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.DOTALL)


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_templates_keep_the_policy(path):
    # The policy refuses style="" attributes, inline scripts and on*= handlers: a template that
    # brings one back breaks silently in the browser, so it fails here first.
    html = COMMENT.sub("", path.read_text())
    if path.parent.name == "drf_spectacular":  # its inline fallback script is never rendered
        html = re.sub(r"{% else %}\s*<script>.*?</script>", "", html, flags=re.DOTALL)
    assert re.findall(r"\sstyle=[\"']", html) == []
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) == []
    assert re.findall(r"\son[a-z]+=[\"']", html) == []
    assert all("nonce=" in tag for tag in re.findall(r"<style[^>]*>", html))
