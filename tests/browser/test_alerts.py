"""A nurse files a third incident about one patient; the supervisor sees the alert on
a phone and acknowledges it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import alerts
from incidents.models import Alert, AlertRule, AlertStatus
from tests.browser.conftest import open_menu, sign_in, ward_with_supervisor
from tests.browser.test_navigation import second_step
from tests.factories import IncidentFactory, PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ward():
    unit, nurse = ward_with_supervisor()
    patient = PatientFactory(reference="9434765919")
    for days in (30, 12):
        incident = IncidentFactory(
            reporter=nurse, patient=patient, occurred_at=timezone.now() - timedelta(days=days)
        )
        alerts.evaluate_incident(incident)
    return unit


def test_third_incident_raises_an_alert_the_supervisor_acknowledges(
    page, live_server, ward, assert_accessible, csp_violations
):
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/incidents/new/")
    page.get_by_label("Where exactly").fill("Day room")
    page.get_by_label("Patient's NHS number").fill("943-476-5919")
    page.get_by_label("What did they ask for or do?").select_option("personal-contact")
    page.get_by_label("What they said or did").fill("Asked for my number a third time.")
    page.get_by_label("Your own words").fill("As before, I can't give my number.")
    page.get_by_label("Asked again").check()
    # The page saves the draft once more (is the person still signed in?), then sends.
    with page.expect_navigation():
        page.get_by_role("button", name="Submit report").click()
    assert page.get_by_text("Report received").is_visible()
    assert Alert.objects.filter(rule=AlertRule.REPEAT_PATIENT).count() == 1

    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")

    sign_in(page, live_server.url, "supervisor")
    second_step(page, "supervisor")
    open_menu(page)
    page.locator("#main-nav").get_by_role("link", name="Alerts").click()
    page.wait_for_load_state("load")
    assert_accessible(page)
    page.get_by_role("link", name="Same patient, repeated incidents").click()
    page.wait_for_load_state("load")
    assert page.get_by_text("The same patient is in 3 incidents").is_visible()
    assert "9434765919" not in page.title() and "9434765919" not in page.url
    assert_accessible(page)

    # Sent without saying what is being done: the page says so at the top (found by
    # review: the form is below the incidents).
    title = page.title()
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state("load")
    assert page.title() == f"Error: {title}"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert_accessible(page)

    page.get_by_label("What you are doing about it").select_option("Spoke with the patient")
    page.get_by_label("Note").fill("Explained our policy again and offered the ward line.")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state("load")
    assert page.get_by_text("Alert acknowledged.").is_visible()
    alert = Alert.objects.get(rule=AlertRule.REPEAT_PATIENT)
    assert alert.status == AlertStatus.ACKNOWLEDGED

    page.get_by_role("link", name="Timeline of this patient's incidents").click()
    page.wait_for_load_state("load")
    assert page.locator("ol li").count() == 3
    assert_accessible(page)

    page.goto(f"{live_server.url}/review/")
    assert_accessible(page)
    page.locator("table a").first.click()
    page.wait_for_load_state("load")
    assert_accessible(page)
    assert csp_violations == []
