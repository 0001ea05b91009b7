"""A manager, on a phone, opens Reports, reads last month's key figures and downloads the
monthly summary; a nurse downloads her own evidence log. Pages are checked for
accessibility, valid HTML, phone width and Content-Security-Policy violations."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from pypdf import PdfReader

from boundaries.models import Role
from incidents.models import Severity
from incidents.reports import Month
from tests.browser.conftest import open_menu, sign_in
from tests.factories import IncidentFactory, UnitFactory, UserFactory

# Transactional, so the live server's thread sees the rows; tests/conftest.py reloads the
# request types and channels that the flush after each such test takes away.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def last_month():
    """Three incidents last month on ward A, one of them high severity."""
    unit = UnitFactory(code="WARD-A", name="Ward A")
    nurse = UserFactory(username="nurse", role=Role.REPORTER, units=[unit])
    manager = UserFactory(username="manager", role=Role.MANAGER, units=[unit])
    TOTPDevice.objects.create(user=manager, name="Phone", confirmed=True)
    month = Month.last_completed()
    for day, severity in ((2, Severity.LOW), (9, Severity.HIGH), (16, Severity.LOW)):
        occurred_at = month.start + timedelta(days=day, hours=10)
        IncidentFactory(
            reporter=nurse,
            occurred_at=occurred_at,
            submitted_at=occurred_at + timedelta(minutes=30),
            review_due_at=occurred_at + timedelta(days=3),
            severity=severity,
            description="Asked for my number again, then waited by the lifts.",
        )
    return month


def sign_in_with_code(page, base_url: str, username: str) -> None:
    """Managers sign in with their password, then the code their phone shows."""
    sign_in(page, base_url, username)
    device = TOTPDevice.objects.get(user__username=username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    page.get_by_label("Code").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("load")


def test_a_manager_downloads_last_months_summary_as_a_pdf(
    page, live_server, last_month, assert_accessible, csp_violations
):
    sign_in_with_code(page, live_server.url, "manager")
    open_menu(page)
    page.locator("#main-nav").get_by_role("link", name="Reports").click()
    page.wait_for_load_state("load")

    assert page.url == f"{live_server.url}/reports/"
    assert page.get_by_role("heading", name=f"{last_month.label}: Whole organisation").is_visible()
    incidents = page.get_by_role("listitem").filter(has=page.get_by_text("Incidents", exact=True))
    assert incidents.locator("p").first.inner_text() == "3"
    high = page.get_by_role("listitem").filter(has=page.get_by_text("High severity", exact=True))
    assert high.locator("p").first.inner_text() == "1"
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the monthly summary (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"boundaries-monthly-{last_month}-organisation.pdf"
    content = download.path().read_bytes()
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    text = "".join(page_.extract_text() for page_ in reader.pages)
    assert f"Monthly summary: {last_month.label}" in text
    assert csp_violations == []


def test_a_nurse_downloads_her_evidence_log(
    page, live_server, last_month, assert_accessible, csp_violations
):
    sign_in(page, live_server.url, "nurse")
    page.get_by_role("link", name="My evidence log").click()
    page.wait_for_load_state("load")
    assert page.get_by_role("heading", name="My evidence log").is_visible()
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my evidence log (PDF)").click()
    content = download_info.value.path().read_bytes()
    text = "".join(page_.extract_text() for page_ in PdfReader(io.BytesIO(content)).pages)
    assert "Asked for my number again, then waited by the lifts." in text
    assert csp_violations == []


@pytest.mark.parametrize("typed", ["2026-13", "March 2026"])
def test_a_month_typed_wrongly_is_explained_on_a_valid_page(
    page, live_server, last_month, assert_accessible, typed
):
    """Browsers without a month picker show a text box. What was typed is quoted in the
    message, not put back into a field that HTML allows only a month in (found by a
    review helper: the Nu Html Checker refused the page)."""
    sign_in_with_code(page, live_server.url, "manager")
    page.goto(f"{live_server.url}/reports/?month={typed}")
    error = page.locator("#month-error")
    assert f"You typed “{typed}”" in error.inner_text()
    assert page.get_by_label("Month").input_value() == ""
    assert_accessible(page)
