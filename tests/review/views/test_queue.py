"""The queue page: login, filters, pagination, counts, htmx fragments, no N+1."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Sample
from review.models import Assignment
from review.roles import ANNOTATOR
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import answer, lease, member

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def _ids(response) -> list[str]:
    return [s.external_id for s in response.context["page"].object_list]


def test_anonymous_users_are_sent_to_login(client):
    for url in (QUEUE, reverse("review:next")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_queue_lists_disputed_samples_by_default_in_id_order(client, auditor):
    ds = DatasetFactory.create()
    second = SampleFactory.create(dataset=ds, external_id="b")
    first = SampleFactory.create(dataset=ds, external_id="a")
    SampleFactory.create(dataset=ds, external_id="agreed", status=Sample.Status.AGREED)
    client.force_login(auditor)
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert _ids(response) == [second.external_id, first.external_id]  # by id, not by name
    assert b"agreed" not in response.content.split(b"<table")[1].split(b"</table>")[0]


def test_filters_narrow_by_dataset_source_suggestion_and_status(client, auditor):
    ds1, ds2 = DatasetFactory.create(), DatasetFactory.create()
    SampleFactory.create(dataset=ds1, external_id="d1-emoset-awe", source="EmoSet")
    SampleFactory.create(dataset=ds1, external_id="d1-flickr-awe", source="Flickr")
    SampleFactory.create(dataset=ds1, external_id="d1-emoset-fear", suggested_emotion="fear")
    SampleFactory.create(dataset=ds2, external_id="d2-emoset-awe")
    SampleFactory.create(dataset=ds1, external_id="d1-done", status=Sample.Status.ADJUDICATED)
    client.force_login(auditor)
    assert _ids(client.get(QUEUE, {"dataset": ds2.pk})) == ["d2-emoset-awe"]
    assert _ids(client.get(QUEUE, {"dataset": ds1.pk, "source": "Flickr"})) == ["d1-flickr-awe"]
    assert _ids(client.get(QUEUE, {"suggested": "fear"})) == ["d1-emoset-fear"]
    assert _ids(client.get(QUEUE, {"status": "adjudicated"})) == ["d1-done"]
    assert len(_ids(client.get(QUEUE, {"status": ""}))) == 5  # "any status"


def test_counts_are_per_status_for_the_chosen_dataset(client, auditor):
    ds = DatasetFactory.create()
    SampleFactory.create_batch(3, dataset=ds)
    SampleFactory.create(dataset=ds, status=Sample.Status.ADJUDICATED)
    SampleFactory.create()  # another dataset: not counted when one is chosen
    client.force_login(auditor)
    counts = client.get(QUEUE, {"dataset": ds.pk}).context["counts"]
    assert counts == {"pending": 0, "agreed": 0, "disputed": 3, "adjudicated": 1, "dropped": 0}
    assert client.get(QUEUE).context["counts"]["disputed"] == 4


def test_pagination_uses_the_page_size_setting(client, auditor, settings):
    settings.QUEUE_PAGE_SIZE = 2
    samples = SampleFactory.create_batch(5)
    client.force_login(auditor)
    page2 = client.get(QUEUE, {"page": 2})
    assert _ids(page2) == [s.external_id for s in samples[2:4]]
    assert page2.context["page"].paginator.num_pages == 3
    assert b"page=3" in page2.content and b"page=1" in page2.content


def test_next_and_previous_links_carry_the_id_they_continue_from(client, auditor, settings):
    import re
    from html import unescape

    settings.QUEUE_PAGE_SIZE = 2
    samples = SampleFactory.create_batch(5)
    client.force_login(auditor)

    def follow(response, rel):
        href = re.search(rf'href="([^"]+)"[^>]*rel="{rel}"', response.content.decode())
        assert href is not None
        return client.get(unescape(href[1]))

    page2 = follow(client.get(QUEUE), "next")
    assert f"after={samples[1].pk}" in page2.request["QUERY_STRING"]
    assert (_ids(page2), page2.context["page"].number) == ([s.external_id for s in samples[2:4]], 2)
    page3 = follow(page2, "next")
    assert _ids(page3) == [samples[4].external_id]
    back = follow(page3, "prev")
    assert f"before={samples[4].pk}" in back.request["QUERY_STRING"]
    assert "after" not in back.request["QUERY_STRING"]
    assert _ids(back) == [s.external_id for s in samples[2:4]]


def test_htmx_request_gets_only_the_rows_fragment(client, auditor):
    SampleFactory.create(external_id="only-one")
    client.force_login(auditor)
    full = client.get(QUEUE)
    partial = client.get(QUEUE, headers={"HX-Request": "true"})
    assert b"<html" in full.content and b'id="queue-results"' in full.content
    assert b"<html" not in partial.content and b"only-one" in partial.content
    assert partial.templates[0].name == "review/_queue_rows.html"
    assert "HX-Request" in partial["Vary"]
    # A history restore after a cache miss swaps the whole body: it needs the full page.
    restore = client.get(
        QUEUE, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert b"<html" in restore.content


def test_filter_form_works_via_htmx_and_plain_get(client, auditor):
    client.force_login(auditor)
    content = client.get(QUEUE).content.decode()
    assert 'hx-get="/review/"' in content and 'hx-push-url="true"' in content
    assert 'method="get"' in content and 'action="/review/"' in content


def test_filter_selects_show_the_chosen_values_escaped(client, auditor):
    """The selects are drawn without Django's widget templates: same names, ids and choices."""
    ds = DatasetFactory.create(name="pets")
    SampleFactory.create(dataset=ds, source="<Flickr&Co>", suggested_emotion="awe")
    margin = SampleFactory.create(dataset=ds, vote_margin=0.125)
    client.force_login(auditor)
    content = client.get(QUEUE, {"dataset": ds.pk, "source": "<Flickr&Co>"}).content.decode()
    assert '<select name="dataset" id="id_dataset" data-default="">' in content
    # What an absent status means, for app.js to set the select from the URL after Back.
    assert '<select name="status" id="id_status" data-default="disputed">' in content
    assert '<label for="id_suggested">Suggested emotion</label>' in content
    assert f'<option value="{ds.pk}" selected>pets</option>' in content
    assert (
        '<option value="&lt;Flickr&amp;Co&gt;" selected>&lt;Flickr&amp;Co&gt;</option>' in content
    )
    assert '<option value="disputed" selected>Disputed</option>' in content
    assert '<option value="" selected>Any emotion</option>' in content
    everything = client.get(QUEUE, {"dataset": ds.pk}).content.decode()
    link = reverse("review:sample", args=[margin.pk])
    assert f'<a href="{link}">' in everything and ">0.13</td>" in everything  # half up


def test_unknown_filter_values_drop_that_filter_only(client, auditor):
    ds = DatasetFactory.create()
    SampleFactory.create(dataset=ds, external_id="kept", source="EmoSet")
    client.force_login(auditor)
    response = client.get(QUEUE, {"dataset": ds.pk, "source": "nope", "page": "zzz"})
    assert response.status_code == 200
    assert _ids(response) == ["kept"]


def test_queue_page_queries_do_not_grow_with_rows(client, auditor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(auditor)

    def page_queries() -> int:
        client.get(QUEUE)  # warm the session
        with CaptureQueriesContext(connection) as queries:
            response = client.get(QUEUE)
        assert response.context["page"].object_list[0].proposal_count == 3
        return len(queries)

    for sample in SampleFactory.create_batch(2):
        ProposalFactory.create_batch(3, sample=sample)
    few = page_queries()
    for sample in SampleFactory.create_batch(18):
        ProposalFactory.create_batch(3, sample=sample)
    many = page_queries()
    assert many == few <= 12


def test_admins_see_import_and_export_links(client, auditor, admin_user):
    client.force_login(auditor)
    assert reverse("review:export").encode() not in client.get(QUEUE).content
    client.force_login(admin_user)
    content = client.get(QUEUE).content
    assert reverse("review:export").encode() in content
    assert reverse("review:import").encode() in content


def test_next_leases_the_first_disputed_sample_or_says_queue_done(client, annotator):
    client.force_login(annotator)
    response = client.get(reverse("review:next"), follow=True)
    assert response.redirect_chain[-1][0] == QUEUE
    assert "Queue done" in response.content.decode()
    ds = DatasetFactory.create()
    SampleFactory.create(status=Sample.Status.AGREED, dataset=ds)
    first = SampleFactory.create(dataset=ds)
    SampleFactory.create(dataset=ds)
    response = client.get(reverse("review:next"), {"dataset": ds.pk})
    assert response.url == reverse("review:sample", args=[first.pk])
    lease = Assignment.objects.get(annotator=annotator)
    assert (lease.sample_id, lease.status) == (first.pk, Assignment.Status.ACTIVE)
    # Next again reopens the running lease instead of handing out a second one.
    assert client.get(reverse("review:next")).url == reverse("review:sample", args=[first.pk])
    assert Assignment.objects.filter(annotator=annotator).count() == 1


def test_annotators_see_only_what_was_handed_to_them(client, annotator):
    mine, other = SampleFactory.create(external_id="mine"), SampleFactory.create(external_id="x")
    lease(mine, annotator)
    client.force_login(annotator)
    response = client.get(QUEUE)
    html = response.content.decode()
    assert response.status_code == 200 and not response.context["see_all"]
    assert reverse("review:sample", args=[mine.pk]) in html
    assert reverse("review:sample", args=[other.pk]) not in html
    assert b'id="start-annotating"' in response.content
    assert b'id="start-adjudicating"' not in response.content


def test_adjudicators_see_the_conflict_count_and_their_button(client, adjudicator):
    sample = SampleFactory.create(dataset=DatasetFactory.create(overlap_k=2))
    answer(sample, member(), "awe")
    answer(sample, member(), "fear")
    client.force_login(adjudicator)
    response = client.get(QUEUE)
    assert response.context["conflicts"] == 1
    assert b'id="start-adjudicating"' in response.content
    assert b"Resolve conflicts (1)" in response.content
    only = client.get(QUEUE, {"status": "needs_adjudication"})
    assert _ids(only) == [sample.external_id]


def test_login_page_renders_and_logs_in(client, user):
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post(
        reverse("login"), {"username": user.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302 and response.url == QUEUE


def _answered(person, sample):
    lease(sample, person, status=Assignment.Status.SUBMITTED)
    answer(sample, person, "awe")


def test_annotators_see_their_progress_and_filters(client, annotator):
    ds = DatasetFactory.create(overlap_k=1)
    done1, done2, held, skipped, _ = SampleFactory.create_batch(5, dataset=ds)
    _answered(annotator, done1)
    _answered(annotator, done2)
    lease(held, annotator)
    lease(skipped, annotator, status=Assignment.Status.SKIPPED)
    client.force_login(annotator)
    response = client.get(QUEUE)
    html = response.content.decode()
    progress = response.context["progress"]
    assert (progress.done, progress.remaining, progress.skipped_open) == (2, 2, 1)
    # A skip is neither done nor dropped from the total: 2 done + 2 to go + 1 skipped.
    assert "<strong>2</strong> of 5 done · 2 to go · <strong>2</strong> today" in html
    assert "1 skipped still open" in html
    assert "Continue</a>" in html  # a sample in hand
    assert response.context["work_filters"] == [
        ("", "All", 4),
        ("held", "In hand", 1),
        ("answered", "Answered", 2),
        ("skipped", "Skipped", 1),
    ]
    everything = client.get(QUEUE).content.decode()  # "All" lists the skipped one to take back
    assert f'action="{reverse("review:take_back", args=[skipped.pk])}"' in everything
    answered = client.get(QUEUE, {"show": "answered"}).context["page"].object_list
    assert {a.sample_id for a in answered} == {done1.pk, done2.pk}
    assert client.get(QUEUE, {"show": "bogus"}).context["show"] == ""


def test_skipped_samples_are_found_and_taken_back(client, annotator):
    ds = DatasetFactory.create(overlap_k=1)
    sample, gone = SampleFactory.create(dataset=ds), SampleFactory.create(dataset=ds)
    lease(sample, annotator, status=Assignment.Status.SKIPPED)
    lease(gone, annotator, status=Assignment.Status.SKIPPED)
    lease(gone, member(ANNOTATOR))  # someone else holds it now
    client.force_login(annotator)
    html = client.get(QUEUE, {"show": "skipped"}).content.decode()
    take_back = reverse("review:take_back", args=[sample.pk])
    assert f'action="{take_back}"' in html
    assert reverse("review:take_back", args=[gone.pk]) not in html and "not open now" in html
    response = client.post(take_back, follow=True)
    assert response.redirect_chain[-1][0] == reverse("review:sample", args=[sample.pk])
    assert response.context["mode"] == "answer"
    assert "is yours again" in response.content.decode()
    refused = client.post(reverse("review:take_back", args=[gone.pk]), follow=True)
    assert refused.redirect_chain[-1][0] == QUEUE + "?show=skipped"
    assert "no longer waits for you" in refused.content.decode()


def test_queue_done_only_when_nothing_is_left_and_skipped_ones_are_named(client, annotator):
    ds = DatasetFactory.create(overlap_k=1)
    sample = SampleFactory.create(dataset=ds)
    lease(sample, annotator, status=Assignment.Status.SKIPPED)
    client.force_login(annotator)
    response = client.get(reverse("review:next"), follow=True)
    html = response.content.decode()
    assert "Queue done" not in html
    # Said once, by the work page (no second message in other words above it).
    assert html.count("1 you skipped is still open: take it back under “Skipped”") == 1
    assert "you skipped is still open" not in html.split('id="queue-state"')[0]
    assert 'id="start-annotating"' not in html  # nothing new to start
    Sample.objects.filter(pk=sample.pk).update(status=Sample.Status.ADJUDICATED)
    done = client.get(reverse("review:next"), follow=True).content.decode()
    assert done.count("Queue done") == 1
    assert "Queue done: nothing is left for you to answer." in done


def test_annotator_queue_page_queries_do_not_grow_with_work(client, annotator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ds = DatasetFactory.create(overlap_k=1)
    client.force_login(annotator)

    def page_queries(show: str) -> int:
        client.get(QUEUE, {"show": show})
        with CaptureQueriesContext(connection) as queries:
            client.get(QUEUE, {"show": show})
        return len(queries)

    def add_work() -> None:
        for sample in SampleFactory.create_batch(3, dataset=ds):
            _answered(annotator, sample)
        lease(SampleFactory.create(dataset=ds), annotator, status=Assignment.Status.SKIPPED)

    add_work()
    few = [page_queries(show) for show in ("", "skipped")]
    for _ in range(5):
        add_work()
    assert [page_queries(show) for show in ("", "skipped")] == few
    assert max(few) <= 18


def test_a_des_map_selection_narrows_the_queue_until_cleared(client, auditor):
    from review.models_desmap import MapSelection, MapSelectionSample

    ds = DatasetFactory.create()
    picked, other = SampleFactory.create(dataset=ds), SampleFactory.create(dataset=ds)
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)
    selection = MapSelection.objects.create(token="t0k3n", dataset=ds, n_samples=1)
    MapSelectionSample.objects.create(selection=selection, sample=picked)
    client.force_login(auditor)
    response = client.get(QUEUE, {"dataset": ds.pk, "selection": "t0k3n"})
    assert _ids(response) == [picked.external_id]
    content = response.content.decode()
    assert "1 selected on the map — <a" in content and ">clear</a>" in content
    assert '<input type="hidden" name="selection" value="t0k3n">' in content
    clear = content.split('1 selected on the map — <a href="')[1].split('"')[0]
    assert "selection" not in clear and f"dataset={ds.pk}" in clear
    unknown = client.get(QUEUE, {"dataset": ds.pk, "selection": "nope"})
    assert sorted(_ids(unknown)) == sorted([picked.external_id, other.external_id])
    assert "selected on the map" not in unknown.content.decode()


def test_resolve_conflicts_with_none_says_what_the_disputed_rows_wait_for(client, adjudicator):
    """The walkthrough: "Queue done" above 4 Disputed rows. The message names what they are."""
    ds = DatasetFactory.create(overlap_k=2)
    samples = SampleFactory.create_batch(4, dataset=ds)
    client.force_login(adjudicator)
    resolve = reverse("review:next") + "?kind=adjudicate"
    page = client.get(resolve, follow=True).content.decode()
    assert "Queue done" not in page
    assert "No conflict to adjudicate yet. The 4 disputed samples wait for annotators" in page
    assert all(s.external_id in page for s in samples)  # the rows the message sits above
    # A conflict held by another adjudicator is named as such, not as "done".
    answer(samples[0], member(), "awe")
    answer(samples[0], member(), "fear")
    lease(samples[0], member(), kind=Assignment.Kind.ADJUDICATE)
    held = client.get(resolve, follow=True).content.decode()
    assert "No conflict is free for you now: 1 conflict is held by another adjudicator" in held
    # Nothing disputed at all: where the samples went instead.
    Sample.objects.filter(dataset=ds).update(status=Sample.Status.ADJUDICATED)
    done = client.get(resolve, follow=True).content.decode()
    assert "Nothing to adjudicate: no sample is disputed. The samples are 4 adjudicated" in done


def test_your_work_pages_through_every_row_of_each_filter(client, annotator, settings):
    """The paginator's total comes from the filter counts: every row is on exactly one page,
    and the last page knows it is the last."""
    settings.QUEUE_PAGE_SIZE = 4
    ds = DatasetFactory.create(overlap_k=1)
    statuses = [Assignment.Status.SUBMITTED] * 6 + [Assignment.Status.SKIPPED] * 3
    for status in [*statuses, Assignment.Status.ACTIVE]:
        lease(SampleFactory.create(dataset=ds), annotator, status=status)
    client.force_login(annotator)
    for show, total in (("", 10), ("answered", 6), ("skipped", 3), ("held", 1)):
        first = client.get(QUEUE, {"show": show}).context["page"]
        assert (first.paginator.count, first.paginator.num_pages) == (total, -(-total // 4))
        seen = []
        for number in range(1, first.paginator.num_pages + 1):
            page = client.get(QUEUE, {"show": show, "page": number}).context["page"]
            seen += [row.pk for row in page.object_list]
        assert len(seen) == len(set(seen)) == total
        assert not page.has_next()


def test_a_tied_row_says_tie_beside_the_first_tied_emotion(client, auditor):
    ds = DatasetFactory.create(name="ties")
    SampleFactory.create(dataset=ds, suggested_emotion="awe", vote_margin=0.0, external_id="t1")
    SampleFactory.create(dataset=ds, suggested_emotion="fear", vote_margin=0.5, external_id="t2")
    client.force_login(auditor)
    content = client.get(QUEUE, {"dataset": ds.pk}).content.decode()
    tied = content[content.index(">t1</a>") : content.index("</tr>", content.index(">t1</a>"))]
    clear = content[content.index(">t2</a>") : content.index("</tr>", content.index(">t2</a>"))]
    assert ">awe</span> <small" in tied and ">tie</small>" in tied
    assert ">fear</span></td>" in clear and ">tie</small>" not in clear
