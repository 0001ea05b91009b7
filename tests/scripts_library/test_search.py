"""Search: every word on SQLite, full-text search on PostgreSQL. The same tests run on
both (DATABASE_URL=postgres://... pytest tests/scripts_library)."""

from __future__ import annotations

import pytest
from django.db import connection

from scripts_library.models import Script
from tests.factories import ScriptFactory

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text search is PostgreSQL's"
)


@pytest.fixture
def scripts(db):
    return {
        "friend": ScriptFactory(
            request_types=["social-media"],
            version__title="Friend or follow request",
            version__text="I don't connect with patients or their families on my accounts.",
            version__guidance="Take a screenshot, then decline the request.",
        ),
        "gift": ScriptFactory(
            request_types=["gifts"],
            version__title="Gift: decline with thanks",
            version__text="Thank you, but I'm not allowed to accept gifts or money.",
        ),
        "draft": ScriptFactory(
            version__title="Friend request, draft wording",
            version__text="A friend request draft nobody approved.",
            version__state="draft",
        ),
    }


def _found(query: str) -> list[Script]:
    return list(Script.objects.offered().search(query))


def test_search_finds_words_in_the_title_text_or_guidance(scripts):
    assert _found("friend request") == [scripts["friend"]]
    assert _found("request friend") == [scripts["friend"]]
    assert _found("screenshot") == [scripts["friend"]]
    assert _found("accept gifts") == [scripts["gift"]]


def test_search_needs_every_word(scripts):
    assert _found("friend gifts") == []


def test_search_ignores_case_and_empty_queries(scripts):
    assert _found("FRIEND") == [scripts["friend"]]
    assert _found("   ") == []


@pytest.mark.parametrize("query", ["cafe", "Cafe", "CAFÉ", "café"])
def test_search_ignores_accents_however_they_are_typed(db, query):
    """Found by a review helper: "cafe" missed "café" on both databases, and "CAFÉ" on
    SQLite."""
    from scripts_library.models import Script

    cafe = ScriptFactory(
        request_types=["meet-outside"],
        version__title="Invitation to the café",
        version__text="That's kind, but I don't meet patients outside work.",
    )
    assert list(Script.objects.offered().search(query)) == [cafe]


@pytest.mark.parametrize(
    ("title", "query"),
    [("Gift from Mr Søren", "Søren"), ("A patient from Łódź asks for your number", "Łódź")],
)
def test_search_finds_a_word_typed_exactly_as_written(db, title, query):
    """Letters without accents to take off (ø, ł) are folded alike on both sides (found
    by a review helper: PostgreSQL folded only the stored text)."""
    from scripts_library.models import Script

    script = ScriptFactory(
        request_types=["meet-outside"],
        version__title=title,
        version__text="That's kind, but I don't meet patients outside work.",
    )
    assert list(Script.objects.offered().search(query)) == [script]


def test_search_never_returns_drafts_or_retired_scripts(scripts):
    scripts["friend"].status = "retired"
    scripts["friend"].save()
    assert _found("friend") == []


def test_search_survives_punctuation_and_very_long_input(scripts):
    assert _found('"friend" & | ! request :*') in ([scripts["friend"]], [])
    assert _found("friend " * 500) == [scripts["friend"]]


def test_search_page_shows_the_matches(nurse_client, scripts):
    page = nurse_client.get("/scripts/search/", {"q": "friend request"}).content.decode()
    assert "1 script found for “friend request”." in page
    assert "Friend or follow request" in page
    assert "draft wording" not in page


def test_a_search_longer_than_the_box_is_cut_not_refused(nurse_client, scripts):
    """From a link, say (found by a review helper: "Ensure this value has at most")."""
    page = nurse_client.get("/scripts/search/", {"q": "friend request " * 10})
    html = page.content.decode()
    assert "Ensure this value" not in html
    assert "Friend or follow request" in html
    assert 'maxlength="100"' in html


@pytest.mark.parametrize("typed", ["943 476 5919", "9434765919"])
def test_a_patient_reference_typed_in_the_search_is_not_kept_in_the_address_or_page(
    nurse_client, scripts, typed
):
    """Found by a hostile-insider review: a reference typed into the library's search
    went into the address (the browser's history, a proxy's log) and back onto the
    page. It is sent to the plain search page, with a message."""
    response = nurse_client.get("/scripts/search/", {"q": typed})
    assert response.status_code == 302
    assert response["Location"] == "/scripts/search/"
    page = nurse_client.get(response["Location"]).content.decode()
    assert "That looks like a patient reference (NHS number)" in page
    assert "9434765919" not in page and "943 476 5919" not in page
    # A search with digits in it that is no patient reference is searched for.
    assert nurse_client.get("/scripts/search/", {"q": "gift 2026"}).status_code == 200


def test_search_page_without_a_query_shows_just_the_box(nurse_client, scripts):
    page = nurse_client.get("/scripts/search/").content.decode()
    assert 'type="search"' in page
    assert "found for" not in page


@on_postgresql
def test_postgresql_search_matches_other_forms_of_a_word(scripts):
    assert set(_found("declining")) == {scripts["gift"], scripts["friend"]}
    assert _found("connecting") == [scripts["friend"]]


@on_postgresql
def test_postgresql_search_puts_title_matches_first(scripts):
    body_only = ScriptFactory(version__title="Another one", version__text="A gift, thank you.")
    assert _found("gift")[0] == scripts["gift"]
    assert body_only in _found("gift")
