"""Headers, error pages, the health check and the support page."""

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import path

from boundaries import urls as project_urls
from tests.conftest import client_for, page_title


def test_every_page_carries_a_strict_content_security_policy(client, db):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_signed_in_pages_are_never_cached(nurse_client):
    response = nurse_client.get("/incidents/")
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_healthz_answers_without_signing_in(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_says_unavailable_when_the_database_is_down(client, db, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr("boundaries.views.connection.cursor", broken_cursor)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_not_found_page_reveals_nothing(nurse_client):
    response = nurse_client.get("/no-such-page/<script>")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"<script>" not in response.content
    assert b"Traceback" not in response.content


def _raise_operational_error(request):
    raise OperationalError("server closed the connection unexpectedly")


def _raise_value_error(request):
    raise ValueError("internal detail that must not leak")


urlpatterns = [
    *project_urls.urlpatterns,
    path("__db-down/", _raise_operational_error),
    path("__bug/", _raise_value_error),
]
handler500 = project_urls.handler500


@pytest.mark.urls("tests.boundaries.test_pages")
def test_database_outage_gives_a_please_try_again_page(db):
    client = Client(raise_request_exception=False)
    response = client.get("/__db-down/")
    assert response.status_code == 503
    assert b"Please try again" in response.content
    assert b"server closed" not in response.content
    assert response["Retry-After"] == "5"


@pytest.mark.urls("tests.boundaries.test_pages")
def test_server_error_page_reveals_nothing(db):
    client = Client(raise_request_exception=False)
    response = client.get("/__bug/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"internal detail" not in response.content


@pytest.mark.parametrize(
    ("persona", "path"),
    [
        ("nurse", "/scripts/situations/gifts/card.pdf"),
        ("nurse", "/incidents/evidence.pdf"),
        ("manager", "/reports/monthly.pdf"),
    ],
)
def test_a_pdf_that_cannot_be_made_gets_a_please_try_again_page(
    db, request, monkeypatch, persona, path
):
    """Found by a fault-injection review: WeasyPrint failing (out of memory, a fault of
    its own) gave the 500 page."""
    import weasyprint

    def broken(*args, **kwargs):
        raise MemoryError("internal detail that must not leak")

    monkeypatch.setattr(weasyprint.HTML, "render", broken)
    client = client_for(request.getfixturevalue(persona))
    client.raise_request_exception = False
    response = client.get(path)
    assert response.status_code == 503
    page = response.content.decode()
    assert "The PDF could not be made just now" in page
    assert "internal detail" not in page
    assert response["Retry-After"] == "60"


def test_support_page_shows_the_employee_assistance_contact(nurse_client, settings):
    settings.BOUNDARIES = {**settings.BOUNDARIES, "EAP_CONTACT": "Call 0800 000 0000 (invented)"}
    response = nurse_client.get("/support/")
    assert response.status_code == 200
    assert b"Call 0800 000 0000 (invented)" in response.content


def test_support_page_needs_sign_in(client, db):
    response = client.get("/support/")
    assert response.status_code == 302


def test_the_admins_password_page_for_a_person_records_the_change_and_not_for_oneself(
    administrator_client, administrator, nurse
):
    # Found by a review helper: an administrator's own password could be set there with
    # no current password (nor lockout), and nobody's change reached the audit trail.
    from boundaries import audit
    from boundaries.models import AuditEvent

    new = {"password1": "a-much-longer-passphrase-42", "password2": "a-much-longer-passphrase-42"}
    own = f"/admin/boundaries/user/{administrator.pk}/password/"
    response = administrator_client.post(own, {**new, "usable_password": "true"})
    assert (response.status_code, response["Location"]) == (302, "/accounts/password_change/")
    administrator.refresh_from_db()
    assert not administrator.check_password(new["password1"])

    theirs = f"/admin/boundaries/user/{nurse.pk}/password/"
    response = administrator_client.post(theirs, {**new, "usable_password": "true"})
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.check_password(new["password1"])
    event = AuditEvent.objects.get(action=audit.Action.PASSWORD_SET)
    assert (event.actor, event.object_id) == (administrator, str(nurse.pk))


def test_the_admin_sites_password_change_is_the_apps_own(administrator_client):
    """Where the current password is checked as at sign-in and the change recorded
    (found by a review helper: the admin's own form did neither)."""
    response = administrator_client.get("/admin/password_change/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/password_change/")
    response = administrator_client.post(
        "/admin/password_change/",
        {"old_password": "x", "new_password1": "y" * 20, "new_password2": "y" * 20},
    )
    assert response["Location"] == "/accounts/password_change/"


@pytest.mark.parametrize(
    ("path", "data", "client_fixture"),
    [
        ("/accounts/login/", {"username": "nurse", "password": "wrong"}, "client"),
        ("/accounts/password_change/", {"old_password": "wrong"}, "nurse_client"),
        ("/alerts/thresholds/", {"repeat_count": "1"}, "manager_client"),
    ],
)
def test_a_form_sent_with_mistakes_says_so_in_the_title_and_at_the_top(
    request, nurse, path, data, client_fixture
):
    """A screen reader reads the title of the page that comes back first (found by
    review)."""
    client = request.getfixturevalue(client_fixture)
    before = client.get(path)
    assert before.status_code == 200, path
    refused = client.post(path, data)
    assert refused.status_code == 200, path
    assert page_title(refused) == f"Error: {page_title(before)}"
    assert b'id="error-summary"' in refused.content
    assert b'id="error-summary"' not in before.content
