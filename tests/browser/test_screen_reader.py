"""What a screen reader is told, at phone width: forms sent back with mistakes take focus
to a summary that links to each field, and news is announced through live regions
(once, and only what changed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import MAX_WITNESSES
from tests.browser.conftest import PHONE, sign_in, ward_with_supervisor
from tests.browser.test_filing import ward as script  # noqa: F401 (fixture: a script)
from tests.browser.test_navigation import second_step
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ward():
    unit, nurse = ward_with_supervisor()
    IncidentFactory(reporter=nurse)
    return unit


# Each time text is added to or changed in a live region after the page has loaded (what a
# screen reader reads out), window.announced gets the region's id and its whole text.
RECORD_ANNOUNCEMENTS = """
window.announced = [];
document.addEventListener("DOMContentLoaded", () => {
  const live = '[aria-live]:not([aria-live="off"]), [role=status], [role=alert], [role=log]';
  new MutationObserver((records) => {
    for (const record of records) {
      const node = record.target;
      const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
      const region = element && element.closest(live);
      const text = region && region.textContent.trim();
      if (text) window.announced.push({id: region.id, text});
    }
  }).observe(document.body, {childList: true, characterData: true, subtree: true});
});
"""

LIVE_REGION = '[aria-live]:not([aria-live="off"]), [role=status], [role=alert], [role=log]'


# The incident form's own news, which comes when it will: the draft saved, the severity.
AUTOSAVE_REGIONS = {"autosave-status", "severity-preview"}


def announced(page, *, ignore: set[str] = AUTOSAVE_REGIONS) -> list[str]:
    return [
        entry["text"] for entry in page.evaluate("window.announced") if entry["id"] not in ignore
    ]


def assert_summary_links_to_fields(page, expected: set[str]) -> None:
    """The error summary has focus, and each of its links takes focus to its field."""
    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    links = page.locator("#error-summary").get_by_role("link")
    targets = {links.nth(i).get_attribute("href") for i in range(links.count())}
    assert targets == {f"#{field}" for field in expected}
    for index in range(links.count()):
        link = links.nth(index)
        link.focus()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == link.get_attribute("href")[1:]


# --- Forms sent back with mistakes -------------------------------------------------------


def test_a_refused_queue_filter_takes_focus_to_a_summary_linking_to_its_fields(
    page, live_server, ward, assert_accessible
):
    """The title said "Error: " but nothing said where (found by a screen-reader review):
    the filter is below the counts, folded away on the next visit."""
    sign_in(page, live_server.url, "supervisor")
    second_step(page, "supervisor")
    today = timezone.localdate()
    later, earlier = today - timedelta(days=2), today - timedelta(days=9)
    page.goto(f"{live_server.url}/review/?severity=9&occurred_from={later}&occurred_to={earlier}")
    assert_summary_links_to_fields(page, {"id_severity", "id_occurred_to"})
    assert_accessible(page)


def test_refused_evidence_log_dates_take_focus_to_a_summary_linking_to_the_field(
    page, live_server, ward, assert_accessible
):
    """Dates the wrong way round were summarised without a link, and neither field was
    marked as the one to correct (found by a screen-reader review)."""
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/evidence/")
    today = timezone.localdate()
    page.get_by_label("From").fill(str(today - timedelta(days=2)))
    page.get_by_label("To").fill(str(today - timedelta(days=9)))
    with page.expect_navigation():
        page.get_by_role("button", name="Download my evidence log (PDF)").click()
    page.wait_for_load_state("load")
    assert_summary_links_to_fields(page, {"id_to"})
    assert page.get_by_label("To").get_attribute("aria-invalid") == "true"
    assert_accessible(page)


# --- Live regions ------------------------------------------------------------------------


def test_choosing_a_situation_announces_a_sentence_not_the_whole_ladder(
    page,
    live_server,
    script,  # noqa: F811
    assert_accessible,
):
    """The ladder itself was the live region: each choice read every step of it out again
    (found by a screen-reader review). A sentence says what changed instead."""
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    page.locator("#add-witness").wait_for()  # the form's script has run

    def choose(label: str, value: str) -> str:
        """Choose, wait for the new ladder, and give the sentence it should bring."""
        page.evaluate("window.announced = []")
        with page.expect_response(lambda r: "/suggestions/" in r.url):
            page.get_by_label(label).select_option(value)
        page.wait_for_function("() => window.announced.some((e) => e.id === 'ladder-status')")
        count = page.locator("#ladder [data-script-version]").count()
        situation = page.locator("#id_request_type option:checked").inner_text().strip()
        channel = page.locator("#id_channel option:checked").inner_text().strip()
        scripts = "1 suggested script" if count == 1 else f"{count or 'No'} suggested scripts"
        return f"{scripts} for \u201c{situation}\u201d by \u201c{channel}\u201d."

    expected = choose("What did they ask for or do?", "social-media")
    assert expected.startswith("1 suggested script for \u201cFriend or follow request")
    assert announced(page) == [expected]
    assert page.get_by_role("button", name="Use these words").first.is_visible()
    assert page.evaluate(f"document.getElementById('ladder').closest('{LIVE_REGION}')") is None
    assert_accessible(page)

    expected = choose("How?", "unit-phone")
    assert announced(page) == [expected]
    assert script.text not in " ".join(announced(page))


SAVED = "Saved. Your draft is at the top of this page when you come back."


def save_a_draft_for_later(page, base_url: str) -> None:
    sign_in(page, base_url, "nurse")
    page.goto(f"{base_url}/incidents/new/")
    page.get_by_label("Where exactly").fill("Bay 3")
    with page.expect_navigation(url=f"{base_url}/incidents/"):
        page.get_by_role("button", name="Save and finish later").click()
    page.wait_for_load_state("load")


def test_a_message_after_saving_is_announced_once(
    page,
    live_server,
    script,  # noqa: F811
    assert_accessible,
):
    """The message sat in a live region already filled as the page arrived, which screen
    readers do not read out (found by a screen-reader review)."""
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    save_a_draft_for_later(page, live_server.url)
    page.wait_for_function("() => window.announced.length > 0")
    assert announced(page) == [SAVED]
    assert page.locator(".messages").get_by_text(SAVED).is_visible()
    # Heard once: the copy on show is hidden from the accessibility tree.
    assert page.locator("main").aria_snapshot().count(SAVED) == 1
    assert_accessible(page)


def test_without_javascript_the_message_is_still_shown_and_read(
    browser,
    live_server,
    script,  # noqa: F811
):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    try:
        save_a_draft_for_later(page, live_server.url)
        assert page.locator(".messages").get_by_text(SAVED).is_visible()
        assert page.locator("main").aria_snapshot().count(SAVED) == 1
    finally:
        context.close()


# --- Tables stacked into cards at phone width --------------------------------------------


def test_a_stacked_table_shows_each_cells_label_but_reads_it_once(
    page, live_server, ward, assert_accessible
):
    """The label drawn before each cell (its column header, from data-label) was read out
    as part of the cell, after the header itself (found by a screen-reader review)."""
    sign_in(page, live_server.url, "nurse")
    assert page.url == f"{live_server.url}/incidents/"
    cells = page.locator("table.table-responsive-stack td[data-label]").evaluate_all(
        """(cells) => cells.map((cell) => ({
            label: cell.dataset.label,
            drawn: getComputedStyle(cell, "::before").content,
            text: cell.textContent.replace(/\\s+/g, " ").trim(),
        }))"""
    )
    assert len(cells) == 6
    for cell in cells:
        assert cell["drawn"].startswith(f'"{cell["label"]}"'), cell  # still shown
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    names = [node["name"]["value"] for node in nodes if node["role"]["value"] == "cell"]
    assert names == [cell["text"] for cell in cells]
    assert_accessible(page)


def test_the_witness_limit_is_announced_when_the_last_row_is_added(
    page,
    live_server,
    script,  # noqa: F811
    assert_accessible,
):
    """The note that no more rows can be added appeared silently as the button went
    (found by a screen-reader review)."""
    page.add_init_script(RECORD_ANNOUNCEMENTS)
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    add = page.get_by_role("button", name="Add a witness")
    while add.is_visible():
        assert announced(page) == []
        add.click()
    note = "That is the most this form takes. Name anyone else in the description."
    page.wait_for_function("() => window.announced.some((e) => e.id === 'witness-limit')")
    assert announced(page) == [note]
    assert page.get_by_text(note).is_visible()
    assert page.locator("#incident-form fieldset.witness").count() == MAX_WITNESSES
    assert_accessible(page)
