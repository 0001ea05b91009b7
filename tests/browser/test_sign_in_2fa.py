"""A supervisor sets up two-factor sign-in on a phone, signs out, and signs in again with
a code: every page of the way is accessible, valid HTML, phone-sized and CSP-clean."""

import base64
import time

import pytest
from django_otp.oath import TOTP

from boundaries.access import home_url
from boundaries.models import Role
from tests.browser.conftest import open_menu, sign_in
from tests.factories import UnitFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def code_from_key(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key typed from the set-up page."""
    key = secret.replace(" ", "")
    key = base64.b32decode(key + "=" * (-len(key) % 8))
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def test_a_supervisor_sets_up_two_factor_sign_in_and_uses_it(
    page, live_server, assert_accessible, csp_violations
):
    unit = UnitFactory(code="WARD-A", name="Ward A")
    supervisor = UserFactory(username="supervisor", role=Role.SUPERVISOR, units=[unit])
    home = f"{live_server.url}{home_url(supervisor)}"

    sign_in(page, live_server.url, "supervisor")
    assert page.url.startswith(f"{live_server.url}/accounts/two-factor/set-up/")
    assert page.get_by_role("heading", name="Set up two-factor sign-in").is_visible()
    qr_code = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr_code.get_attribute("src").startswith("data:image/svg+xml")
    assert qr_code.evaluate("image => image.complete && image.naturalWidth > 0")
    assert_accessible(page)

    # "Scanning": the key as the page shows it to type in.
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill("12345")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state("load")
    # By the field (the summary at the top links to it with the same words).
    assert page.get_by_text(
        "Type the 6 digits your authenticator app shows.", exact=True
    ).is_visible()
    assert_accessible(page)

    page.get_by_label("Code from your authenticator app").fill(code_from_key(secret))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state("load")
    assert page.get_by_role("heading", name="Your backup codes").is_visible()
    codes = page.get_by_role("list", name="Backup codes").locator("li")
    assert codes.count() == 10
    assert_accessible(page)
    page.get_by_role("link", name="Continue").click()
    page.wait_for_load_state("load")
    assert page.url == home

    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("load")
    assert "/accounts/login/" in page.url

    sign_in(page, live_server.url, "supervisor")
    assert page.url.startswith(f"{live_server.url}/accounts/two-factor/")
    assert page.get_by_role("heading", name="Confirm it is you").is_visible()
    # The navigation is hidden until the second step is done.
    assert page.locator("#main-nav").get_by_role("link", name="My incidents").count() == 0
    assert_accessible(page)
    # The code used to set up cannot be used again: the app's next one works.
    page.get_by_label("Code").fill(code_from_key(secret, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("load")
    assert page.url == home
    assert csp_violations == []
