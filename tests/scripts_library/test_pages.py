"""The library as staff see it: browsing by situation and approach, the script page, the
fragment the incident form loads, and who may open what."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ScriptFactory

MARKUP = '<script>alert("x")</script><b>bold</b>'


def _query_count(client, path: str) -> int:
    """Queries for one request, after a first one that does the session's one-off work."""
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


# --- Finding the words ----------------------------------------------------------------


def test_index_lists_every_situation_and_approach_with_a_search_box(nurse_client, library):
    response = nurse_client.get("/scripts/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/scripts/situations/social-media/"' in page
    assert 'href="/scripts/categories/broken-record/"' in page
    assert 'type="search"' in page and 'action="/scripts/search/"' in page
    situations = {s.code: s.offered for s in response.context["situations"]}
    assert len(situations) == 12 and all(count >= 3 for count in situations.values())
    assert "Manage the library" not in page


def test_index_offers_the_manage_link_to_people_who_may_draft(supervisor_client, db):
    assert b"Manage the library" in supervisor_client.get("/scripts/").content


def test_situation_page_shows_the_ladder_in_order_with_copy_buttons(nurse_client, library):
    response = nurse_client.get("/scripts/situations/social-media/")

    page = response.content.decode()
    first = page.index("First response")
    again = page.index("If they ask again, say…")
    escalates = page.index("If it escalates, do…")
    assert first < again < escalates
    assert page.index("I don&#x27;t connect with patients or their families") > first
    assert page.index("my answer is the same") > again
    assert "data-copy-target=" in page
    assert "What to do:" in page
    assert 'href="/scripts/situations/social-media/card.pdf"' in page


def test_situation_page_shows_only_approved_scripts(nurse_client, db):
    ScriptFactory(version__text="Approved words for the ward.")
    ScriptFactory(version__text="Draft words nobody approved.", version__state="draft")
    retired = ScriptFactory(version__text="Words we stopped using.")
    retired.status = "retired"
    retired.save()

    page = nurse_client.get("/scripts/situations/personal-contact/").content.decode()

    assert "Approved words for the ward." in page
    assert "Draft words nobody approved." not in page
    assert "Words we stopped using." not in page


def test_unknown_or_inactive_situation_is_not_found(nurse_client, db):
    from incidents.models import RequestType

    RequestType.objects.filter(code="gifts").update(is_active=False)
    assert nurse_client.get("/scripts/situations/no-such-thing/").status_code == 404
    assert nurse_client.get("/scripts/situations/gifts/").status_code == 404


def test_a_scripts_page_names_a_situation_switched_off_without_a_dead_link(nurse_client, db):
    # Noticed by a review helper: the link led to a 404.
    from incidents.models import RequestType

    script = ScriptFactory(request_types=["gifts", "private-services"])
    RequestType.objects.filter(code="gifts").update(is_active=False)
    page = nurse_client.get(f"/scripts/{script.pk}/").content.decode()
    assert 'href="/scripts/situations/gifts/"' not in page
    assert "(no longer offered)" in page
    assert 'href="/scripts/situations/private-services/"' in page


def test_category_page_lists_its_scripts_with_their_situations(nurse_client, library):
    response = nurse_client.get("/scripts/categories/their-number/")

    page = response.content.decode()
    assert "<h1" in page and "When the patient gives their number" in page
    assert "so I&#x27;ll hand this back" in page
    assert "Offered or pressed their own number on me" in page
    assert nurse_client.get("/scripts/categories/nope/").status_code == 404


def test_script_page_shows_words_guidance_and_the_rest_of_its_ladder(nurse_client, library):
    from scripts_library.models import Script

    script = Script.objects.get(key="offered-number-hand-back")

    page = nurse_client.get(f"/scripts/{script.pk}/").content.decode()

    assert "I can&#x27;t keep personal numbers from patients" in page
    assert 'data-copy-target="script-words"' in page
    assert "confidential waste" in page
    assert "The rest of the ladder" in page
    assert "I still can&#x27;t take it" in page  # its "ask again" sibling
    assert "Matched on a dating app" not in page  # another situation's script


def test_draft_and_retired_scripts_have_no_page_for_anyone(nurse_client, manager_client, db):
    draft = ScriptFactory(version__state="draft")
    retired = ScriptFactory()
    retired.status = "retired"
    retired.save()
    for client in (nurse_client, manager_client):
        assert client.get(f"/scripts/{draft.pk}/").status_code == 404
        assert client.get(f"/scripts/{retired.pk}/").status_code == 404


def test_script_text_with_markup_is_shown_as_text(nurse_client, db):
    script = ScriptFactory(version__text=MARKUP, version__title=MARKUP, version__guidance=MARKUP)
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"

    for path in (
        f"/scripts/{script.pk}/",
        "/scripts/situations/personal-contact/",
        "/scripts/situations/personal-contact/suggestions/",
        "/scripts/categories/policy/",
        "/scripts/search/?q=bold",
    ):
        page = nurse_client.get(path).content.decode()
        assert escaped in page, path
        assert '<script>alert("x")' not in page, path
        assert "<b>bold</b>" not in page, path


# --- The fragment for the incident form ---------------------------------------------------


def test_suggestions_fragment_offers_each_script_with_its_version_and_words(nurse_client, db):
    first = ScriptFactory(version__text="Thanks, but no.")
    ScriptFactory(stage="again", version__text="Still no, thank you.")

    response = nurse_client.get("/scripts/situations/personal-contact/suggestions/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page and "<h1" not in page
    assert f'data-script-version="{first.current_version.pk}"' in page
    assert 'data-words="Thanks, but no."' in page
    assert page.count("Use these words") == 2
    assert "If they ask again, say…" in page


def test_suggestions_narrow_to_a_channel_when_asked(nurse_client, db):
    ScriptFactory(channels=["social-media"], version__text="Only online.")
    ScriptFactory(version__text="Anywhere at all.")

    page = nurse_client.get(
        "/scripts/situations/personal-contact/suggestions/?channel=unit-phone"
    ).content.decode()

    assert "Anywhere at all." in page
    assert "Only online." not in page


# --- Query counts --------------------------------------------------------------------------

LIBRARY_PAGES = [
    "/scripts/",
    "/scripts/situations/personal-contact/",
    "/scripts/situations/personal-contact/suggestions/",
    "/scripts/categories/policy/",
    "/scripts/search/?q=personal",
]


@pytest.mark.parametrize("path", LIBRARY_PAGES)
def test_library_pages_make_the_same_number_of_queries_for_1_or_20_scripts(nurse_client, path):
    ScriptFactory(request_types=["personal-contact", "gifts"])
    with_one = _query_count(nurse_client, path)
    for stage in ["first", "again", "escalates"] * 6 + ["first"]:
        ScriptFactory(stage=stage, request_types=["personal-contact", "gifts"])

    assert _query_count(nurse_client, path) == with_one


def test_script_page_makes_the_same_number_of_queries_for_1_or_20_siblings(nurse_client, db):
    script = ScriptFactory(request_types=["personal-contact", "gifts"])
    ScriptFactory(stage="again")
    with_one = _query_count(nurse_client, f"/scripts/{script.pk}/")
    for stage in ["first", "again", "escalates"] * 6 + ["again"]:
        ScriptFactory(stage=stage, request_types=["gifts"])

    assert _query_count(nurse_client, f"/scripts/{script.pk}/") == with_one


# --- Access --------------------------------------------------------------------------------

READ_PAGES = [*LIBRARY_PAGES, "/scripts/situations/gifts/card.pdf"]


@pytest.mark.parametrize("path", READ_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", READ_PAGES)
def test_administrators_are_refused_the_library(administrator_client, path):
    assert administrator_client.get(path).status_code == 403


@pytest.mark.parametrize("path", READ_PAGES)
def test_library_pages_answer_405_to_post(nurse_client, path):
    assert nurse_client.post(path).status_code == 405


def test_deactivated_staff_are_signed_out(deactivated):
    from tests.conftest import client_for

    response = client_for(deactivated).get("/scripts/")
    assert response.status_code == 302
