"""The mask endpoints: clicks (htmx and plain), polling, undo/redo/choose/accept, PNG, page."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from annotator.lib.rle import decode_mask
from annotator.models import Region
from review.models import Assignment, MaskEdit
from review.pages.mask_overlays import state_overlays
from review.roles import ADJUDICATOR, AUDITOR
from review.selectors.masks import mask_state
from tests.factories import RegionFactory, SampleFactory, UserFactory
from tests.support.masks import (  # noqa: F401 (fixtures)
    inline_tasks,
    make_annotator,
    make_scene_sample,
    shown_overlay,
    tiny_sam,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
MAX_RESPONSE_BYTES = 50_000


@pytest.fixture(autouse=True)
def _no_waiting(settings):
    """Without a worker (tasks are not sent here unless inline), a click answers at once."""
    settings.MASK_WAIT_SECONDS = 0


@pytest.fixture
def sample(images_root):
    return make_scene_sample(images_root)


@pytest.fixture
def person(client, sample):
    user = make_annotator(sample)
    client.force_login(user)
    return user


def _url(name, sample, role="subject"):
    return reverse(f"review:{name}", args=[sample.pk, role])


def _click(client, sample, role="subject", htmx=True, **data):
    values = {"x": "150", "y": "100", "label": "1", **data}
    return client.post(_url("mask_edit", sample, role), values, **(HTMX if htmx else {}))


@pytest.fixture
def seeded_taxonomy(transactional_db):
    """A transactional test's flush removes the migration's Mikels 8 row; put it back."""
    from annotator.models import Taxonomy
    from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS

    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})


# Committed for real (transaction=True): the task runs when the click's transaction commits,
# before the response is rendered, as in production.
@pytest.mark.ml
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_a_click_answers_the_partial_with_the_new_mask(seeded_taxonomy, client, person, sample):
    response = _click(client, sample)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="mask-state-subject" data-version="')
    edit = MaskEdit.objects.get()
    assert edit.status == "done"
    assert np.array_equal(shown_overlay(html), decode_mask(edit.candidates[0]["rle"]))
    assert html.count('name="candidate"') == 3  # the other two one key away
    # Small masks: all three overlays come along (the shown one first, then the others).
    assert html.count('<data class="mask-png') == 3
    assert '<data class="mask-png" value="data:image/png;base64,' in html
    assert html.count('class="mask-png mask-alternative"') == 2
    assert response["HX-Retarget"] == "#mask-state-subject"  # the panel as it is on arrival
    assert "sam-tiny" in html  # which segmenter made the mask
    assert len(response.content) <= MAX_RESPONSE_BYTES


@pytest.mark.ml
@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("inline_tasks")
def test_a_one_candidate_segmenter_still_sends_its_overlay(
    seeded_taxonomy, settings, client, person, sample
):
    """GrabCut makes one mask per click: no candidates to choose from, but the overlay comes
    in the shown list, which the page draws (it drew nothing before)."""
    pytest.importorskip("cv2")
    settings.SEGMENTER = "grabcut"
    html = _click(client, sample).content.decode()
    edit = MaskEdit.objects.get()
    assert (edit.status, edit.segmenter, len(edit.candidates)) == ("done", "grabcut", 1)
    assert 'name="candidate"' not in html  # nothing to cycle through
    assert html.count('<data class="mask-png" value="data:image/png;base64,') == 1
    assert np.array_equal(shown_overlay(html), decode_mask(edit.candidates[0]["rle"]))
    assert (
        'Mask edited by hand, segmented by <strong class="mask-segmenter">grabcut</strong>' in html
    )


def test_clicks_sent_together_are_stored_one_edit_each(client, person, sample):
    """What the page sends for the clicks made while its previous request was on its way."""
    response = _click(
        client, sample, x="", y="", clicks="[[10, 20, 1], [30.5, 40, 0], [50, 60, 1]]"
    )
    assert response.status_code == 200
    edits = list(MaskEdit.objects.order_by("seq"))
    assert [len(e.points) for e in edits] == [1, 2, 3]
    assert edits[-1].points == [[10.0, 20.0, 1], [30.5, 40.0, 0], [50.0, 60.0, 1]]
    assert [e.status for e in edits] == ["stale", "stale", "pending"]  # only the last computes
    assert response.content.decode().count("[50.0,60.0,1]") == 1  # the marks of the last


@pytest.mark.parametrize(
    ("clicks", "extra", "message"),
    [
        ("[[10, 20]]", {}, "clicks: a non-empty list of [x, y, label]"),
        ("[]", {}, "clicks: a non-empty list"),
        ("[[10, 20, 2]]", {}, "label 1 or 0"),
        ('[["10", 20, 1]]', {}, "clicks: a non-empty list"),
        ("[[10, 20, 1], [999, 20, 1]]", {}, "outside the image"),
        ("not json", {}, "clicks: Enter a valid JSON"),
        ("[[10, 20, 1]]", {"x": "5", "y": "5"}, "either x, y or clicks"),
        (str([[1, 1, 1]] * 65), {}, "clicks: at most 64 clicks per mask"),
    ],
)
def test_bad_clicks_are_refused_and_nothing_is_stored(
    client, person, sample, clicks, extra, message
):
    values = {"x": "", "y": "", **extra, "clicks": clicks}
    response = _click(client, sample, **values)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MaskEdit.objects.exists()


def test_a_plain_form_post_saves_and_returns_to_the_sample_page(
    client, person, sample, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _click(client, sample, htmx=False, label="0")
    assert response.status_code == 302
    assert response.url == reverse("review:sample", args=[sample.pk]) + "#mask-subject"
    assert MaskEdit.objects.get().points == [[150.0, 100.0, 0]]


@pytest.mark.parametrize(
    ("role", "data", "status", "message"),
    [
        ("subject", {"x": "500"}, 400, "outside the image"),
        ("subject", {"y": ""}, 400, "give all of x, y or none"),
        ("subject", {"x": "", "y": ""}, 400, "empty edit"),
        ("subject", {"x": "abc"}, 400, "x: Enter a number"),
        ("subject", {"label": "7"}, 400, "label: Select a valid choice"),
        ("sky", {}, 400, "unknown element 'sky'"),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    client, person, sample, role, data, status, message
):
    response = _click(client, sample, role=role, **data)
    assert response.status_code == status
    assert message in response.content.decode()
    assert not MaskEdit.objects.exists()


def test_a_sample_not_assigned_to_the_user_is_refused(client, sample):
    stranger = make_annotator()
    sample.dataset.overlap_k = 2  # team review: an annotator needs an assignment
    sample.dataset.save()
    client.force_login(stranger)
    response = _click(client, sample)
    assert response.status_code == 403
    assert "not assigned to you" in response.content.decode()
    assert client.get(_url("mask_png", sample)).status_code == 403
    Assignment.objects.create(
        sample=sample, annotator=stranger, expires_at=timezone.now() + timedelta(hours=1)
    )
    assert _click(client, sample).status_code == 200
    assert MaskEdit.objects.count() == 1


def test_mask_urls_need_a_login(client, sample):
    # htmx (the mask panel's requests) gets 401 and where to sign in, never the login page.
    response = _click(client, sample)
    assert response.status_code == 401 and reverse("login") in response["X-Login-Url"]
    response = _click(client, sample, htmx=False)
    assert response.status_code == 302 and reverse("login") in response.url


@pytest.mark.ml
@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_undo_redo_choose_accept_answer_the_partial(
    client, person, sample, django_capture_on_commit_callbacks
):
    assert client.post(_url("mask_undo", sample), **HTMX).status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        _click(client, sample)
    with django_capture_on_commit_callbacks(execute=True):
        _click(client, sample, x="40", y="40", label="0")
    first, second = MaskEdit.objects.order_by("seq")
    response = client.post(_url("mask_undo", sample), **HTMX)
    assert response.status_code == 200 and 'data-status="done"' in response.content.decode()
    first.refresh_from_db()
    assert Region.objects.get(origin="person").mask == first.candidates[0]["rle"]
    assert client.post(_url("mask_redo", sample), **HTMX).status_code == 200
    response = client.post(_url("mask_choose", sample), {"candidate": "1"}, **HTMX)
    assert response.status_code == 200
    assert 'class="button button-quiet chosen" aria-pressed="true"' in response.content.decode()
    second.refresh_from_db()
    assert second.chosen == 1
    assert client.post(_url("mask_choose", sample), {"candidate": "x"}, **HTMX).status_code == 400
    response = client.post(_url("mask_accept", sample), **HTMX)
    assert "accepted" in response.content.decode()
    second.refresh_from_db()
    assert second.accepted_at is not None


def test_polling_a_pending_edit_says_what_it_waits_for(client, person, sample):
    response = _click(client, sample)  # no on-commit run: the task is never sent
    edit = MaskEdit.objects.get()
    assert "computing mask…" in response.content.decode()
    poll = _url("mask_poll", sample) + f"?edit={edit.pk}"
    assert f'hx-get="{poll}"' in response.content.decode()

    # No worker has taken it for seconds: it is queued, not being encoded.
    MaskEdit.objects.filter(pk=edit.pk).update(created_at=timezone.now() - timedelta(seconds=5))
    response = client.get(poll, **HTMX)
    assert response.status_code == 200 and "HX-Retarget" not in response
    assert "waiting for a worker…" in response.content.decode()
    assert len(response.content) < 500  # a waiting poll is cheap

    # A worker took it and encodes the image: it says so, however long it has waited.
    MaskEdit.objects.filter(pk=edit.pk).update(
        status="running", preparing=True, created_at=timezone.now()
    )
    assert "preparing image…" in client.get(poll, **HTMX).content.decode()
    state = mask_state(sample=sample, role="subject", author_id=person.pk)
    context = {"sample": sample, "state": state, "overlays": state_overlays(state)}
    assert "preparing image…" in render_to_string("review/_mask_state.html", context)


@pytest.mark.ml
@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_polling_a_finished_edit_swaps_in_the_whole_state(client, person, sample):
    _click(client, sample)
    edit = MaskEdit.objects.get()
    from review.services.mask_worker import compute_mask_edit

    compute_mask_edit(edit_id=edit.pk)
    response = client.get(_url("mask_poll", sample) + f"?edit={edit.pk}", **HTMX)
    assert response["HX-Retarget"] == "#mask-state-subject"
    assert response["HX-Reswap"] == "outerHTML"
    assert 'data-status="done"' in response.content.decode()
    assert client.get(_url("mask_poll", sample) + "?edit=x", **HTMX).status_code == 400


def test_the_png_shows_the_mask_in_the_elements_colour(client, person, sample):
    assert client.get(_url("mask_png", sample)).status_code == 404
    from annotator.lib.rle import encode_mask

    mask = __import__("numpy").zeros((240, 320), bool)
    mask[10:20, 30:60] = True
    RegionFactory.create(sample=sample, role="subject", mask=encode_mask(mask), segmenter="sam")
    response = client.get(_url("mask_png", sample))
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content)).convert("RGBA")
    assert image.size == (320, 240)
    assert image.getpixel((40, 15)) == (214, 51, 108, 120)
    assert image.getpixel((0, 0)) == (0, 0, 0, 0)


def test_the_sample_page_has_the_mask_panel_and_the_script(client, sample):
    adjudicator = UserFactory.create()
    adjudicator.groups.add(Group.objects.get_or_create(name=ADJUDICATOR)[0])
    client.force_login(adjudicator)
    RegionFactory.create(sample=sample, role="subject", phrase="ellipse")
    response = client.get(reverse("review:sample", args=[sample.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for role in ("background", "attribute", "subject"):
        assert f'id="mask-state-{role}"' in html
        assert f'<canvas class="mask-canvas role-{role}"' in html
    assert 'data-can-edit="1"' in html
    assert "js/masks.js" in html


@pytest.mark.ml
@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_opening_a_sample_prefetches_the_next_ones_and_masks_bare_boxes(
    client, settings, sample, images_root, tmp_path, django_capture_on_commit_callbacks
):
    settings.MASK_BACKGROUND_TASKS = True
    settings.MASK_PREFETCH_COUNT = 2
    adjudicator = UserFactory.create()
    adjudicator.groups.add(Group.objects.get_or_create(name=ADJUDICATOR)[0])
    client.force_login(adjudicator)
    following = [
        make_scene_sample(images_root, name=f"next{i}.png", dataset=sample.dataset)
        for i in range(3)
    ]
    for other in following:  # distinct images, distinct cache keys
        SampleFactory._meta.model.objects.filter(pk=other.pk).update(content_hash=f"h{other.pk}")
    bare = RegionFactory.create(sample=sample, role="subject", x1=60, y1=40, x2=250, y2=190)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(reverse("review:sample", args=[sample.pk])).status_code == 200
    bare.refresh_from_db()
    assert bare.mask is not None and bare.segmenter == "sam-tiny"
    # This sample and the next two: three embeddings; the third following sample is not yet.
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 3


def test_overlays_are_exact_pngs_scaled_down_only_past_the_display_size():
    from annotator.lib.rle import encode_mask
    from review.pages.mask_overlays import OVERLAY_MAX_SIDE, mask_png
    from review.selectors.masks import ShownMask

    rng = np.random.default_rng(3)
    small = rng.random((240, 321)) > 0.5  # ragged, and a width that is no multiple of 8
    png = mask_png([ShownMask(encode_mask(small), "", "", None)], role="attribute", max_side=1024)
    image = Image.open(io.BytesIO(png))
    assert np.array_equal(np.asarray(image) == 1, small)
    assert image.convert("RGBA").getpixel((0, 0)) in ((0, 0, 0, 0), (224, 138, 0, 120))

    large = np.zeros((1000, 2048), bool)
    large[100:300, 400:1200] = True
    png = mask_png([ShownMask(encode_mask(large), "", "", None)], role="subject", max_side=1024)
    scaled = np.asarray(Image.open(io.BytesIO(png))) == 1
    assert scaled.shape == (500, OVERLAY_MAX_SIDE)
    assert scaled[50:150, 200:600].all() and scaled.sum() == 100 * 400


def test_under_blind_review_the_sample_page_shows_only_the_persons_own_mask_clicks(
    client, images_root
):
    dataset = make_scene_sample(images_root).dataset
    dataset.overlap_k = 2
    dataset.save(update_fields=["overlap_k"])
    sample = SampleFactory.create(
        dataset=dataset, image_path="scene.png", width=320, height=240, status="disputed"
    )
    first, second = make_annotator(), make_annotator()
    for user in (first, second):
        Assignment.objects.create(
            sample=sample, annotator=user, expires_at=timezone.now() + timedelta(hours=1)
        )
    client.force_login(first)
    assert _click(client, sample, x="123", y="45").status_code == 200

    client.force_login(second)
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    # "[123": a click's point (a bare "123" also turned up inside the section's data-version).
    assert "[123" not in page.split('id="mask-state-subject"')[1].split("</section>")[0]
    assert _click(client, sample, x="10", y="20").status_code == 200
    theirs = MaskEdit.objects.get(author=second)
    assert theirs.points == [[10.0, 20.0, 1]]  # not built on the first person's click

    auditor = UserFactory.create(is_staff=False)
    auditor.groups.add(Group.objects.get_or_create(name=AUDITOR)[0])
    client.force_login(auditor)
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    section = page.split('id="mask-state-subject"')[1].split("</section>")[0]
    assert "[123" not in section and "[10.0" not in section


@pytest.mark.ml
@pytest.mark.usefixtures("tiny_sam")
def test_an_adjudicator_sees_each_persons_mask_an_annotator_only_their_own(client, images_root):
    from review.services.mask_worker import compute_mask_edit
    from review.services.masks import Click, accept_mask, add_mask_edit

    sample = make_scene_sample(images_root, status="disputed")
    sample.dataset.overlap_k = 2
    sample.dataset.save(update_fields=["overlap_k"])
    first, second = make_annotator(username="ann-one"), make_annotator(username="ann-two")
    for user, x in ((first, 150.0), (second, 60.0)):
        Assignment.objects.create(
            sample=sample, annotator=user, expires_at=timezone.now() + timedelta(hours=1)
        )
        edit = add_mask_edit(sample=sample, role="subject", author=user, click=Click(x, 100.0, 1))
        assert compute_mask_edit(edit_id=edit.pk) == "done"
    accept_mask(sample=sample, role="subject", user=second)

    adjudicator = UserFactory.create()
    adjudicator.groups.add(Group.objects.get_or_create(name=ADJUDICATOR)[0])
    client.force_login(adjudicator)
    html = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    card = html.split('id="people-masks-title"')[1].split("</section>")[0]
    assert 'People\'s masks <span class="muted">(2)</span>' in html
    assert card.count('class="mask-thumb" src="data:image/png;base64,') == 2
    items = card.split("<li")[1:]
    assert ["<strong>ann-one</strong>" in items[0], "<strong>ann-two</strong>" in items[1]] == [
        True,
        True,
    ]
    assert ["mask-accepted" in item for item in items] == [False, True]

    client.force_login(first)
    assert (
        "People's masks"
        not in client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    )
