"""Each role signs in at phone size, lands on its home and follows its navigation."""

import pytest

from boundaries.models import Role
from tests.browser.conftest import open_menu, sign_in
from tests.factories import UnitFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

HOMES = {
    "nurse": "/incidents/",
    "supervisor": "/incidents/",
    "manager": "/incidents/",
}


@pytest.fixture
def people():
    unit = UnitFactory(code="WARD-A", name="Ward A")
    UserFactory(username="nurse", role=Role.REPORTER, units=[unit])
    UserFactory(username="supervisor", role=Role.SUPERVISOR, units=[unit])
    UserFactory(username="manager", role=Role.MANAGER, units=[unit])


def test_login_page_is_accessible(page, live_server, assert_accessible, csp_violations):
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.title() == "Sign in · Boundaries"
    assert_accessible(page)
    assert csp_violations == []


@pytest.mark.parametrize("username", sorted(HOMES))
def test_each_role_lands_on_its_home_and_every_link_works(
    page, live_server, people, username, assert_accessible, csp_violations
):
    sign_in(page, live_server.url, username)
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
    UserFactory(username="admin", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    sign_in(page, live_server.url, "admin")
    assert page.url == f"{live_server.url}/admin/"
    assert page.get_by_role("heading", name="People, units and settings").is_visible()
