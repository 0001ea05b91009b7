"""What a nurse types on a phone is never lost, nor filed twice, whatever the browser
does with the page: Back, reload, leaving mid-sentence, the connection dropping. Each
case was found by a review helper."""

import pytest

from incidents.models import Draft, Incident
from tests.browser.conftest import sign_in
from tests.browser.test_filing import ward  # noqa: F401  (the fixture: a ward, nurse, script)

pytestmark = pytest.mark.django_db(transaction=True)


def start_report(page, base_url: str) -> None:
    sign_in(page, base_url, "nurse")
    page.goto(f"{base_url}/incidents/new/")
    page.get_by_label("Where exactly").fill("Bay 3")
    page.get_by_label("Patient").first.check()
    page.get_by_label("Patient's NHS number").fill("943 476 5919")
    page.get_by_label("What did they ask for or do?").select_option("social-media")
    page.get_by_label("How?").select_option("social-media")
    page.get_by_label("What they said or did").fill("Sent me a friend request.")


def test_back_from_the_confirmation_shows_the_report_sent_not_a_form_to_send_again(
    page,
    live_server,
    ward,  # noqa: F811
):
    start_report(page, live_server.url)
    page.get_by_label("The words you used").select_option(str(ward.pk))
    page.get_by_label("Asked again").check()
    page.get_by_role("button", name="Submit report").click()
    page.wait_for_url("**/filed/")
    filed_url = page.url

    page.go_back()
    page.wait_for_url(filed_url)
    assert page.get_by_text("This report was sent already").is_visible()
    assert Incident.objects.count() == 1


def test_back_to_the_form_carries_on_with_the_same_report_and_its_witnesses(
    page,
    live_server,
    ward,  # noqa: F811
):
    start_report(page, live_server.url)
    page.get_by_label("Name").first.fill("Dee Rosevear")
    page.locator("select[name=witnesses-0-role]").select_option("staff")
    page.get_by_role("button", name="Add a witness").click()
    page.locator("input[name=witnesses-1-name]").fill("Fen Polwarth")
    page.locator("select[name=witnesses-1-role]").select_option("visitor")
    page.get_by_text("Draft saved at").wait_for()
    (draft,) = Draft.objects.all()

    page.goto(f"{live_server.url}/scripts/")
    page.go_back()
    page.wait_for_url(f"**/incidents/drafts/{draft.pk}/")
    assert page.get_by_label("What they said or did").input_value() == "Sent me a friend request."
    assert page.locator("input[name=witnesses-1-name]").input_value() == "Fen Polwarth"
    page.get_by_label("The words you used").select_option(str(ward.pk))
    page.get_by_label("Asked again").check()
    page.get_by_role("button", name="Submit report").click()
    page.wait_for_url("**/filed/")
    incident = Incident.objects.get()
    assert [w.name for w in incident.witnesses.all()] == ["Dee Rosevear", "Fen Polwarth"]
    assert not Draft.objects.exists()


def test_reloading_the_form_carries_on_with_the_same_report(
    page,
    live_server,
    ward,  # noqa: F811
):
    start_report(page, live_server.url)
    page.get_by_text("Draft saved at").wait_for()
    (draft,) = Draft.objects.all()
    page.reload()
    page.wait_for_url(f"**/incidents/drafts/{draft.pk}/")
    assert page.get_by_label("Where exactly").input_value() == "Bay 3"
    assert Draft.objects.count() == 1


def test_words_typed_just_before_leaving_the_page_are_kept(
    page,
    live_server,
    ward,  # noqa: F811
):
    start_report(page, live_server.url)
    page.get_by_text("Draft saved at").wait_for()
    words = "She said she would wait for me outside the staff entrance."
    page.get_by_label("What they said or did").fill(words)
    with page.expect_navigation():
        page.go_back()
    page.wait_for_timeout(1500)
    (draft,) = Draft.objects.all()
    assert draft.data.get("description") == [words]


def test_a_draft_typed_offline_is_saved_when_the_connection_returns(
    page,
    live_server,
    ward,  # noqa: F811
):
    start_report(page, live_server.url)
    page.get_by_text("Draft saved at").wait_for()
    page.context.set_offline(True)
    words = "He waited by my car after the late shift and asked for my number."
    page.get_by_label("What they said or did").fill(words)
    page.get_by_text("the draft will be saved when the connection returns").wait_for()
    page.context.set_offline(False)
    # No more typing: the page saves by itself.
    page.get_by_text("Draft saved at").wait_for(timeout=15000)
    (draft,) = Draft.objects.all()
    assert draft.data.get("description") == [words]
