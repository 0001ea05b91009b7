"""The script library on a phone: a nurse finds the words in a few taps, and managers look
after the library without help. Every page visited is checked for accessibility."""

from __future__ import annotations

import re
import time

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from boundaries.models import Role
from scripts_library.models import Script
from scripts_library.services import load_library
from tests.browser.conftest import open_menu, sign_in
from tests.factories import UnitFactory, UserFactory
from tests.scripts_library.conftest import approvers, editors

# serialized_rollback: the flush between tests would otherwise take the seeded taxonomy.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people():
    unit = UnitFactory(code="WARD-A", name="Ward A")
    UserFactory(username="nurse", role=Role.REPORTER, units=[unit])
    supervisor = UserFactory(username="supervisor", role=Role.SUPERVISOR, units=[unit])
    supervisor.groups.add(editors())
    manager = UserFactory(username="manager", role=Role.MANAGER, units=[unit])
    manager.groups.add(approvers())
    for person in (supervisor, manager):
        TOTPDevice.objects.create(user=person, name="Phone", confirmed=True)


def sign_in_with_code(page, base_url: str, username: str) -> None:
    """Supervisors and managers sign in with their password, then their phone's code."""
    sign_in(page, base_url, username)
    device = TOTPDevice.objects.get(user__username=username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    page.get_by_label("Code").fill(f"{totp.token():06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("load")


@pytest.fixture
def library(db):
    load_library()


def test_nurse_finds_what_to_say_about_a_friend_request_in_a_few_taps(
    page, live_server, people, library, assert_accessible, csp_violations
):
    # "A patient's son sent me a friend request."
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, live_server.url, "nurse")

    open_menu(page)
    page.get_by_role("link", name="Scripts", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What to say")
    assert_accessible(page)

    page.get_by_role("link", name=re.compile("Friend or follow request")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Friend or follow request")
    assert_accessible(page)

    first = page.get_by_role("region", name="First response")
    again = page.get_by_role("region", name="If they ask again, say…")
    escalates = page.get_by_role("region", name="If it escalates, do…")
    expect(first).to_contain_text("I don't connect with patients or their families")
    expect(again).to_contain_text("my answer is the same")
    expect(escalates).to_contain_text("passing it to my supervisor")
    first_words = first.locator(".script-words").first

    first.get_by_role("button", name=re.compile("Copy the words")).first.click()
    expect(first.get_by_role("status").first).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == first_words.inner_text().strip()
    assert csp_violations == []


def test_nurse_searches_and_opens_a_script_with_its_ladder(
    page, live_server, people, library, assert_accessible, csp_violations
):
    sign_in(page, live_server.url, "nurse")
    page.goto(f"{live_server.url}/scripts/")

    page.get_by_label("Search the scripts").fill("gift")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Search the scripts")
    assert_accessible(page)

    page.get_by_role("link", name="Gift or money: decline with thanks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gift or money: decline with thanks")
    expect(page.get_by_text("The rest of the ladder")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Gifts and favours").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gifts and favours")
    assert_accessible(page)
    assert csp_violations == []


def test_supervisor_writes_a_script_and_a_manager_approves_then_retires_it(
    page, live_server, people, assert_accessible, csp_violations
):
    sign_in_with_code(page, live_server.url, "supervisor")
    page.goto(f"{live_server.url}/scripts/")
    page.get_by_role("link", name="Manage the library").click()
    assert_accessible(page)

    page.get_by_role("link", name="Write a new script").click()
    page.get_by_role("button", name="Save draft").click()
    # By the field (the summary at the top links to it with the same words).
    expect(page.get_by_text("Choose at least one situation.", exact=True)).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Title").fill("Unit phone: no personal numbers")
    page.get_by_label("The words to say").fill("We never pass on staff members' numbers.")
    page.get_by_label("Approach").select_option(label="Official channels")
    page.get_by_label("First response").check()
    page.get_by_label("Asked for my personal number or contact details").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Propose for approval").click()
    expect(page.get_by_text("Proposed.")).to_be_visible()

    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    sign_in_with_code(page, live_server.url, "manager")
    page.goto(f"{live_server.url}/scripts/manage/")
    page.get_by_role("link", name="Unit phone: no personal numbers").click()
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("^Approve")).click()
    expect(page.get_by_text("Approved. Staff now see these words.")).to_be_visible()

    page.get_by_role("link", name="Retire this script").click()
    assert_accessible(page)
    page.get_by_role("button", name="Retire this script").click()
    expect(page.get_by_text("Retired. Staff no longer see this script.")).to_be_visible()
    assert Script.objects.get().status == "retired"
    assert csp_violations == []
