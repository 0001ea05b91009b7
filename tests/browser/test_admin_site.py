"""The admin site on a phone: the pages an administrator uses to place people in units,
give them roles, search the audit trail and order the script library's categories are
accessible, valid HTML, and do not scroll sideways at 320 px. (Found by a review helper:
the suite only checked the admin's index, and each of these failed.)"""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from boundaries import audit
from boundaries.models import Role
from incidents.models import QueuedEmail
from tests.browser.conftest import sign_in
from tests.browser.test_navigation import second_step
from tests.factories import ScriptFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SMALLEST_PHONE = {"width": 320, "height": 640}


@pytest.fixture
def administration():
    ward_a = UnitFactory(code="WARD-A", name="Ward A")
    ward_b = UnitFactory(code="WARD-B", name="Ward B")
    nurse = UserFactory(username="nurse", role=Role.REPORTER, units=[ward_a, ward_b])
    admin = UserFactory(
        username="admin", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True
    )
    TOTPDevice.objects.create(user=admin, name="Phone", confirmed=True)
    audit.record(action=audit.Action.SIGN_IN_SUCCEEDED, actor=nurse)
    return nurse


def sign_in_as_administrator(page, base_url: str) -> None:
    sign_in(page, base_url, "admin")
    second_step(page, "admin")
    assert page.url == f"{base_url}/admin/"


@pytest.mark.parametrize("which", ["add", "change"])
def test_the_page_that_places_a_person_in_units_is_accessible(
    page, live_server, administration, assert_accessible, which
):
    """Adding someone, or changing their role, units and groups: the units they work in
    are rows of a unit picker and "primary" and "delete" tick boxes."""
    sign_in_as_administrator(page, live_server.url)
    path = "add/" if which == "add" else f"{administration.pk}/change/"
    page.goto(f"{live_server.url}/admin/boundaries/user/{path}")
    assert page.get_by_text("Units this person works in").first.is_visible()
    assert page.locator("select[name='memberships-0-unit']").is_visible()
    assert_accessible(page)


def test_the_audit_trail_search_is_accessible(
    page, live_server, administration, assert_accessible
):
    sign_in_as_administrator(page, live_server.url)
    page.goto(f"{live_server.url}/admin/boundaries/auditevent/")
    assert page.locator("#searchbar").is_visible()
    assert_accessible(page)


def test_the_script_category_order_is_accessible(
    page, live_server, administration, assert_accessible
):
    sign_in_as_administrator(page, live_server.url)
    page.goto(f"{live_server.url}/admin/scripts_library/category/")
    assert page.locator("#result_list tbody tr").count() == 9
    assert_accessible(page)


@pytest.mark.parametrize("what", ["unit", "script"])
def test_admin_pages_with_a_long_name_fit_the_smallest_phone(
    page, live_server, administration, what
):
    """A unit name or script title of one long word (the app's own pages wrap it)."""
    if what == "unit":
        unit = UnitFactory(code="LONG", name="W" * 100)
        path = f"boundaries/unit/{unit.pk}/change/"
    else:
        script = ScriptFactory(version__title="T" * 120)
        path = f"scripts_library/script/{script.pk}/change/"
    page.set_viewport_size(SMALLEST_PHONE)
    sign_in_as_administrator(page, live_server.url)
    page.goto(f"{live_server.url}/admin/{path}")
    page.wait_for_load_state("load")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at 320 px"


def test_the_page_that_changes_a_person_is_valid_html(
    page, live_server, administration, html_checker
):
    """What the Nu Html Checker says of the same page, apart from axe's findings."""
    sign_in_as_administrator(page, live_server.url)
    page.goto(f"{live_server.url}/admin/boundaries/user/{administration.pk}/change/")
    page.wait_for_load_state("load")
    errors = html_checker(page.content())
    assert errors == [], f"{page.url}: " + "\n".join(errors)


def test_the_email_outbox_is_accessible_valid_html_and_fits_the_smallest_phone(
    page, live_server, administration, assert_accessible, html_checker
):
    """The list, with an email the relay refused, and that email's page."""
    email = QueuedEmail.objects.create(
        recipients=["supervisor@example.org"],
        subject="Boundaries: an update on your report BND-2026-00001",
        body="Read it here:\nhttps://boundaries.example.org/incidents/1/",
        attempts=QueuedEmail.MAX_ATTEMPTS,
        last_error="SMTPRecipientsRefused: " + "x" * 400,
    )
    page.set_viewport_size(SMALLEST_PHONE)
    sign_in_as_administrator(page, live_server.url)
    for path in ("", f"{email.pk}/change/"):
        page.goto(f"{live_server.url}/admin/incidents/queuedemail/{path}")
        page.wait_for_load_state("load")
        assert page.get_by_text("supervisor@example.org").first.is_visible()
        assert_accessible(page)
        errors = html_checker(page.content())
        assert errors == [], f"{page.url}: " + "\n".join(errors)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at 320 px"


def test_a_unit_page_drawn_before_a_colleague_closed_the_unit_says_so_accessibly(
    page, live_server, administration, assert_accessible
):
    """What a stale change page comes back with (boundaries/stale_pages.py): the message
    at the top of the form, with what was typed."""
    sign_in_as_administrator(page, live_server.url)
    unit = UnitFactory(code="WARD-S", name="Ward S")
    page.goto(f"{live_server.url}/admin/boundaries/unit/{unit.pk}/change/")
    unit.is_active = False
    unit.save()  # a colleague closes it meanwhile
    page.get_by_label("Name").fill("Ward S East")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state("load")
    assert page.get_by_text(
        "Someone else changed this unit after you opened this page"
    ).is_visible()
    assert page.get_by_label("Name").input_value() == "Ward S East"
    assert_accessible(page)


def test_a_person_page_drawn_before_a_colleague_changed_their_units_says_so_accessibly(
    page, live_server, administration, assert_accessible
):
    """The message above the person's units, with what was typed."""
    sign_in_as_administrator(page, live_server.url)
    page.goto(f"{live_server.url}/admin/boundaries/user/{administration.pk}/change/")
    administration.memberships.update(is_primary=False)  # a colleague, meanwhile
    page.get_by_label("Last name").fill("Penhallow")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state("load")
    assert page.get_by_text("This person's units changed after you opened this page").is_visible()
    assert page.get_by_label("Last name").input_value() == "Penhallow"
    assert_accessible(page)
