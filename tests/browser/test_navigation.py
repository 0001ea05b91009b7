"""Each role signs in at phone size, lands on its home and follows its navigation."""

import time

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from boundaries.models import Role
from tests.browser.conftest import open_menu, sign_in
from tests.factories import TEST_PASSWORD, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

HOMES = {
    "nurse": "/incidents/",
    "supervisor": "/review/",
    "manager": "/reports/",
}


@pytest.fixture
def people():
    unit = UnitFactory(code="WARD-A", name="Ward A")
    UserFactory(username="nurse", role=Role.REPORTER, units=[unit])
    for username, role in [("supervisor", Role.SUPERVISOR), ("manager", Role.MANAGER)]:
        person = UserFactory(username=username, role=role, units=[unit])
        TOTPDevice.objects.create(user=person, name="Phone", confirmed=True)


def second_step(page, username: str) -> None:
    """Supervisors, managers and administrators type the code their phone shows."""
    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    if device is None:
        return
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    page.get_by_label("Code").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("load")


def test_login_page_is_accessible(page, live_server, assert_accessible, csp_violations):
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.title() == "Sign in · Boundaries"
    assert_accessible(page)
    assert csp_violations == []


def test_a_refused_sign_in_says_so_in_the_title_and_takes_focus_to_why(
    page, live_server, people, assert_accessible
):
    sign_in(page, live_server.url, "nurse", password="not the password")
    assert page.title() == "Error: Sign in · Boundaries"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert_accessible(page)


def test_a_form_left_open_across_a_sign_in_elsewhere_gets_an_accessible_page(
    page, live_server, people, assert_accessible
):
    """Signing in rotates the form token, so a sign-in form left open in another tab is
    refused: with the app's page saying what to do, not Django's bare one."""
    page.goto(f"{live_server.url}/accounts/login/")
    other = page.context.new_page()
    sign_in(other, live_server.url, "nurse")
    other.close()
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    assert page.title() == "This page was out of date · Boundaries"
    assert_accessible(page)


@pytest.mark.parametrize(
    ("path", "title"),
    [("/alerts/", "Not available to you"), ("/incidents/999999/", "Page not found")],
)
def test_refusals_are_accessible_pages(page, live_server, people, assert_accessible, path, title):
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}{path}")
    assert page.title() == f"{title} · Boundaries"
    assert_accessible(page)


def test_the_page_for_a_pdf_that_could_not_be_made_is_accessible(
    page, live_server, people, assert_accessible, monkeypatch
):
    import weasyprint

    def broken(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(weasyprint.HTML, "render", broken)
    sign_in(page, live_server.url, "nurse")
    response = page.goto(f"{live_server.url}/scripts/situations/gifts/card.pdf")
    assert response.status == 503
    assert page.title() == "The PDF could not be made · Boundaries"
    assert_accessible(page)


@pytest.mark.parametrize("username", sorted(HOMES))
def test_each_role_lands_on_its_home_and_every_link_works(
    page, live_server, people, username, assert_accessible, csp_violations
):
    sign_in(page, live_server.url, username)
    second_step(page, username)
    assert page.url == f"{live_server.url}{HOMES[username]}"
    assert_accessible(page)

    open_menu(page)
    links = page.locator("#main-nav a.nav-link")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs, "the navigation is empty"
    for href in hrefs:
        open_menu(page)
        page.locator(f'#main-nav a.nav-link[href="{href}"]').click()
        page.wait_for_load_state("load")
        assert page.url == f"{live_server.url}{href}"
        assert page.locator("h1").count() == 1
        assert_accessible(page)

    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    assert "/accounts/login/" in page.url
    assert csp_violations == []


def test_skip_link_moves_keyboard_focus_to_the_content(page, live_server, people):
    sign_in(page, live_server.url, "nurse")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("element => element === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_administrator_lands_on_the_admin_site(page, live_server, db):
    admin = UserFactory(
        username="admin", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True
    )
    TOTPDevice.objects.create(user=admin, name="Phone", confirmed=True)
    sign_in(page, live_server.url, "admin")
    second_step(page, "admin")
    assert page.url == f"{live_server.url}/admin/"
    assert page.get_by_role("heading", name="People, units and settings").is_visible()
