"""Browser tests: Playwright driving Debian's Chromium, at phone size.

`playwright install` downloads a browser and fails on these machines: the tests use
/usr/bin/chromium (apt-get install chromium). Without it they skip locally and fail
under CI, so a CI run can never pass without having run them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
PHONE = {"width": 375, "height": 740}


def _missing(what: str, how: str):
    message = f"{what} is not available: {how}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(reason=message)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        _missing("Chromium", "install it with 'apt-get install chromium'")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE, "has_touch": True}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def html_checker():
    """The Nu Html Checker as a local HTTP service, started once per test session."""
    java = shutil.which("java")
    if not java:
        _missing("Java", "install a JRE (apt-get install default-jre-headless)")
    if not VNU_JAR.exists():
        _missing("The Nu Html Checker", "run 'npm ci' (make test does)")
    port = _free_port()
    # Java found on the PATH and the checker's jar from node_modules: no outside input.
    process = subprocess.Popen(  # noqa: S603
        [
            java,
            "-Xss16m",
            "-Dnu.validator.servlet.bind-address=127.0.0.1",
            "-cp",
            str(VNU_JAR),
            "nu.validator.servlet.Main",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/?out=json"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("The Nu Html Checker did not start", pytrace=False)
            time.sleep(0.3)

    def errors(html: str) -> list[str]:
        request = urllib.request.Request(
            url, data=html.encode(), headers={"Content-Type": "text/html; charset=utf-8"}
        )
        # The checker started above, on 127.0.0.1 over http: never a user's URL.
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            messages = json.load(response)["messages"]
        return [
            f"line {m.get('lastLine')}: {m['message']} [{m.get('extract', '').strip()}]"
            for m in messages
            if m["type"] == "error" or m.get("subType") == "fatal"
        ]

    yield errors
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def axe():
    return Axe()


@pytest.fixture
def assert_accessible(axe, html_checker):
    """Check the page as it stands: axe-core finds no violations, the Nu Html Checker
    finds no errors, and nothing is wider than the phone's screen."""

    def check(page) -> None:
        page.wait_for_load_state("load")
        result = axe.run(page)
        assert result.violations_count == 0, result.generate_report()
        errors = html_checker(page.content())
        assert errors == [], f"{page.url}: " + "\n".join(errors)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at phone width"

    return check


@pytest.fixture(autouse=True)
def _report_form_saved_before_teardown(request):
    """A report form saves what was typed when its page goes away (as a phone's would).
    At the end of a test that leaves one open, let that last save finish while the
    test's database still exists, instead of meeting the database being emptied."""
    # Asked for here, so that the page is opened before and closed after this fixture.
    page = request.getfixturevalue("page") if "page" in request.fixturenames else None
    yield
    if page is None:
        return
    try:
        if page.is_closed() or not page.locator("#incident-form").count():
            return
        with page.expect_request_finished(lambda r: "/autosave/" in r.url, timeout=5000):
            page.goto("about:blank")
    except PlaywrightError:
        pass  # nothing was left to save


@pytest.fixture
def csp_violations(page):
    """Collects Content-Security-Policy violations reported in the console."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def ward_with_supervisor():
    """Ward A, with a reporter ``nurse`` and a supervisor ``supervisor`` who has a
    second factor: returns the unit and the nurse."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from boundaries.models import Role
    from tests.factories import UnitFactory, UserFactory

    unit = UnitFactory(code="WARD-A", name="Ward A")
    nurse = UserFactory(username="nurse", role=Role.REPORTER, units=[unit])
    supervisor = UserFactory(username="supervisor", role=Role.SUPERVISOR, units=[unit])
    TOTPDevice.objects.create(user=supervisor, name="Phone", confirmed=True)
    return unit, nurse


def sign_in(page, base_url: str, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


def choose_situation(page, request_type: str, channel: str) -> None:
    """Choose on the report form what was asked for and how, and wait for the script
    ladder drawn for both. It is fetched after each choice and, as it appears, pushes
    the rest of the form down: a click aimed below it before then could land elsewhere
    (a radio button "did not change its state" on a loaded CI machine)."""
    page.get_by_label("What did they ask for or do?").select_option(request_type)
    how = page.get_by_label("How?")
    how.select_option(channel)
    label = how.evaluate("select => select.selectedOptions[0].textContent.trim()")
    expect(page.locator("#ladder-status")).to_contain_text(f"by \u201c{label}\u201d")


def open_menu(page) -> None:
    """At phone width the navigation is behind the menu button."""
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") == "false":
        toggler.click()
        page.locator("#main-nav.show").wait_for()
