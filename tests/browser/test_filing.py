"""A nurse on a phone files a complete incident, with two witnesses and words from the
script library, and finds it in her list."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from boundaries.models import Role, User
from incidents.models import Draft, Incident
from scripts_library.models import Category, Script, ScriptStatus, ScriptVersion, VersionState
from tests.browser.conftest import choose_situation, sign_in
from tests.factories import IncidentFactory, UnitFactory, UserFactory, request_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ward():
    unit = UnitFactory(code="WARD-A", name="Ward A")
    UserFactory(username="nurse", role=Role.REPORTER, units=[unit])
    UserFactory(username="supervisor", role=Role.SUPERVISOR, units=[unit])
    script = Script.objects.create(
        key="browser-social-first", category=Category.objects.get(code="social-media")
    )
    version = ScriptVersion.objects.create(
        script=script,
        category=script.category,
        number=1,
        title="Friend requests",
        text="Thank you, but I keep my social media personal; the ward page has our news.",
        state=VersionState.APPROVED,
        decided_at=timezone.now() - timedelta(days=30),
    )
    version.request_types.add(request_type("social-media"))
    script.request_types.add(request_type("social-media"))
    script.current_version = version
    script.status = ScriptStatus.APPROVED
    script.save()
    return version


def test_nurse_files_a_complete_incident_on_a_phone(
    page, live_server, ward, assert_accessible, csp_violations
):
    sign_in(page, live_server.url, "nurse")
    page.locator("#main").get_by_role("link", name="Report an incident").click()
    page.wait_for_load_state("load")
    assert_accessible(page)

    page.get_by_label("Where exactly").fill("Bay 3")
    page.get_by_label("Patient").first.check()
    page.get_by_label("Patient's NHS number").fill("943 476 5919")
    choose_situation(page, "social-media", "social-media")
    page.get_by_label("What they said or did").fill(
        "Her son sent me a friend request and messaged asking to meet for coffee."
    )
    page.get_by_label("The words you used").select_option(str(ward.pk))
    page.get_by_label("Asked again").check()
    page.get_by_label("I ended the interaction").check()

    page.get_by_label("Name").first.fill("Dee Rosevear")
    page.locator("select[name=witnesses-0-role]").select_option("staff")
    page.get_by_role("button", name="Add a witness").click()
    page.locator("input[name=witnesses-1-name]").fill("Fen Polwarth")
    page.locator("select[name=witnesses-1-role]").select_option("visitor")

    # The draft is saved on the server while typing, and the severity shown.
    page.get_by_text("Draft saved at").wait_for()
    page.get_by_text("Severity so far: Moderate.").wait_for()
    assert Draft.objects.count() == 1
    assert_accessible(page)

    # The page saves the draft once more (is the person still signed in?), then sends.
    with page.expect_navigation():
        page.get_by_role("button", name="Submit report").click()
    incident = Incident.objects.get()
    assert page.get_by_text(incident.reference).is_visible()
    assert_accessible(page)

    assert incident.words_used == ward.text
    assert incident.script_version == ward
    assert [w.name for w in incident.witnesses.all()] == ["Dee Rosevear", "Fen Polwarth"]
    assert incident.patient.reference == "9434765919"
    assert not Draft.objects.exists()

    page.get_by_role("link", name="Back to my incidents").click()
    page.wait_for_load_state("load")
    assert page.get_by_role("link", name=incident.reference).is_visible()
    assert_accessible(page)
    assert csp_violations == []


def test_each_witness_rows_fields_are_grouped_as_that_witness(page, live_server, ward):
    """Every row's fields are called "Name", "Role" and "Contact": the row's group says
    whose they are, and a row added takes the next number (found by review: focus moved
    to a field read only as "Name", past a heading focus never reads)."""
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    page.get_by_role("button", name="Add a witness").click()
    assert page.evaluate("document.activeElement.id") == "id_witnesses-1-name"
    for number in (1, 2):
        group = page.get_by_role("group", name=f"Witness {number}", exact=True)
        expect(group.get_by_role("textbox", name="Name", exact=True)).to_have_count(1)
    focused_group = page.evaluate(
        "document.activeElement.closest('fieldset').querySelector(':scope > legend')"
        ".textContent.trim()"
    )
    assert focused_group == "Witness 2"


def test_autosave_does_not_repeat_unchanged_news_in_live_regions(page, live_server, ward):
    """A screen reader reads a live region out whenever it is rewritten: "Severity so far:
    Low." after every pause in typing was heard again and again (found by review)."""
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    page.get_by_label("What did they ask for or do?").select_option("personal-contact")
    with page.expect_response(lambda r: "/autosave/" in r.url):
        page.get_by_label("Accepted the answer").check()
    page.get_by_text("Severity so far:").wait_for()
    page.evaluate(
        """() => {
          window.spoken = [];
          for (const id of ["severity-preview", "autosave-status"]) {
            const region = document.getElementById(id);
            new MutationObserver(() => window.spoken.push(region.textContent))
              .observe(region, {childList: true, characterData: true, subtree: true});
          }
        }"""
    )
    description = page.get_by_label("What they said or did")
    for words in ["Asked ", "for my ", "number."]:
        with page.expect_response(lambda r: "/autosave/" in r.url):
            description.press_sequentially(words)
        page.wait_for_timeout(200)
    spoken = page.evaluate("window.spoken")
    # Only the minute of "Draft saved at 10:41." may have moved on meanwhile.
    assert len(spoken) <= 1 and not any(text.startswith("Severity") for text in spoken), spoken


def test_errors_are_shown_next_to_fields_and_summarised(
    page, live_server, ward, assert_accessible
):
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    page.get_by_label("Where exactly").fill("Car park")
    # The page saves the draft once more (is the person still signed in?), then sends.
    with page.expect_navigation():
        page.get_by_role("button", name="Submit report").click()
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.get_by_label("Where exactly").input_value() == "Car park"
    assert page.locator("#id_description").get_attribute("aria-invalid") == "true"
    assert_accessible(page)


def test_every_link_in_the_error_summary_takes_focus_to_its_field(page, live_server, ward):
    """The links to radio sets ("Who was it?", "How did they respond?") go to their first
    option: a link to the set's <div> left focus on the summary (found by review)."""
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit report").click()
    links = page.locator("#error-summary").get_by_role("link")
    assert links.count() >= 4
    missed = {}
    for index in range(links.count()):
        link = links.nth(index)
        link.focus()
        page.keyboard.press("Enter")
        if not page.evaluate("document.activeElement.matches('input, select, textarea')"):
            missed[link.inner_text()] = page.evaluate("document.activeElement.outerHTML")[:60]
    assert missed == {}


def test_a_refused_addendum_takes_focus_to_what_went_wrong(
    page, live_server, ward, assert_accessible
):
    """The form is at the foot of a long report: sent empty, the page comes back with
    the title and the focused summary at the top saying so (found by review)."""
    incident = IncidentFactory(reporter=User.objects.get(username="nurse"))
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    title_before = page.title()
    with page.expect_navigation():
        page.get_by_role("button", name="Add to the report").click()
    expect(page.locator("#id_text_error")).to_have_count(1)
    assert page.title() == f"Error: {title_before}"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    page.locator("#error-summary").get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "id_text"
    assert_accessible(page)


def _end_the_session_as_if_idle(page, settings) -> None:
    """What 30 minutes away from the phone does: the server ends the session at the
    next request (its last-seen time is set back past the idle limit)."""
    import time

    from django.contrib.sessions.backends.db import SessionStore

    from boundaries.sessions import SEEN_KEY

    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[SEEN_KEY] = time.time() - settings.SESSION_IDLE_TIMEOUT.total_seconds() - 60
    session.save()


def test_a_report_sent_after_the_session_ended_stays_on_the_page(
    page, live_server, ward, settings, assert_accessible
):
    """Sent as it was, the form would meet the sign-in page and be lost. The page checks
    first, keeps everything, says how to sign in again, and files once that is done."""
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    page.get_by_label("Where exactly").fill("Bay 3")
    page.get_by_label("Patient").first.check()
    page.get_by_label("Patient's NHS number").fill("943 476 5919")
    choose_situation(page, "social-media", "social-media")
    page.get_by_label("The words you used").select_option(str(ward.pk))
    page.get_by_label("Asked again").check()
    page.get_by_text("Draft saved at").wait_for()
    _end_the_session_as_if_idle(page, settings)
    words = "He found my profile and sent a message at midnight."
    page.get_by_label("What they said or did").fill(words)

    page.get_by_role("button", name="Submit report").click()

    page.get_by_text("You have been signed out").wait_for()
    assert page.url.endswith("/incidents/new/")
    assert page.get_by_label("What they said or did").input_value() == words
    assert not Incident.objects.exists()
    assert_accessible(page)

    other = page.context.new_page()
    sign_in(other, live_server.url, "nurse")
    other.close()
    # The page saves the draft once more (is the person still signed in?), then sends.
    with page.expect_navigation():
        page.get_by_role("button", name="Submit report").click()
    incident = Incident.objects.get()
    assert incident.description == words
    assert page.get_by_text(incident.reference).is_visible()
