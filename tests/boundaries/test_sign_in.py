"""Signing in and out, password change and reset, and the lockout."""

import re

import pytest
from django.core import mail
from django.test import Client

from boundaries.models import Role
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD, UserFactory


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


@pytest.mark.django_db
def test_login_page_offers_the_form_and_a_reset_link(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'autocomplete="username"' in response.content
    assert b'href="/accounts/password_reset/"' in response.content


def test_a_reporter_lands_on_their_home_after_the_password(db, unit):
    # Roles with a second step: tests/boundaries/test_two_factor.py.
    UserFactory(username="someone", role=Role.REPORTER, units=[unit])
    client = Client()
    response = sign_in(client, "someone", TEST_PASSWORD)
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == "/incidents/"


def test_anonymous_home_sends_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_wrong_password_is_refused_with_a_message(client, nurse):
    response = sign_in(client, "nurse", "not-the-password")
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_deactivated_person_cannot_sign_in(client, deactivated):
    response = sign_in(client, "gone", TEST_PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post(nurse_client):
    assert nurse_client.get("/accounts/logout/").status_code == 405
    response = nurse_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in nurse_client.session


# Addresses that leave the site once a browser reads them: another host, with the
# slashes browsers also accept (a backslash, a tab or a space they drop), or a scheme.
OFF_SITE = [
    "//elsewhere.example/",
    "///elsewhere.example/",
    "/\\elsewhere.example/",
    "\\\\elsewhere.example/",
    "/\t/elsewhere.example/",
    " //elsewhere.example/",
    "https://elsewhere.example/",
    "http:/elsewhere.example/",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_no_next_leads_off_the_site(client, nurse, supervisor, next_url):
    """Every page that takes ``next``: signing in (straight in, or on to the second
    step), the second step and its set-up, the admin site's sign-in, signing out."""

    def leaves(response) -> bool:
        location = response.get("Location", "")
        return "elsewhere" in location.split("?")[0] or location.startswith("javascript")

    signed_in = client.post(
        f"/accounts/login/?next={next_url}", {"username": "nurse", "password": TEST_PASSWORD}
    )
    assert signed_in.status_code == 302 and not leaves(signed_in)
    first_step = Client().post(
        "/accounts/login/",
        {"username": "supervisor", "password": TEST_PASSWORD, "next": next_url},
    )
    assert first_step.status_code == 302 and not leaves(first_step)
    for path in ("/accounts/two-factor/", "/accounts/two-factor/set-up/"):
        response = client_for(supervisor).get(path, {"next": next_url})
        assert response.status_code == 302 and not leaves(response)
    response = Client().get("/admin/login/", {"next": next_url})
    assert response["Location"].startswith("/accounts/login/?next=")
    for data in ({"next": next_url}, {}):
        query = "" if data else f"?next={next_url}"
        response = client_for(nurse).post(f"/accounts/logout/{query}", data)
        assert response.status_code == 302 and not leaves(response)


def test_logout_removes_the_session_from_the_server(nurse_client):
    from django.contrib.sessions.models import Session

    key = nurse_client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    nurse_client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()


def test_repeated_failures_lock_out_that_username_from_that_address(client, nurse, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "nurse", "wrong")
    response = sign_in(client, "nurse", TEST_PASSWORD)
    assert response.status_code == 429
    assert b"Sign-in paused" in response.content
    assert "_auth_user_id" not in client.session


def test_one_persons_typos_never_lock_out_the_rest_of_the_ward(client, nurse, unit, settings):
    colleague = UserFactory(username="colleague", units=[unit])
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        sign_in(client, "nurse", "wrong")
    # Same ward computer (same address), another person: still fine.
    other = Client()
    response = sign_in(other, colleague.username, TEST_PASSWORD)
    assert response.status_code == 302
    # The same person from another computer is not locked out either.
    elsewhere = Client()
    response = sign_in(elsewhere, "nurse", TEST_PASSWORD, address="10.0.0.2")
    assert response.status_code == 302


def test_password_change_applies_the_validators(nurse_client, nurse):
    response = nurse_client.post(
        "/accounts/password_change/",
        {"old_password": TEST_PASSWORD, "new_password1": "short", "new_password2": "short"},
    )
    assert response.status_code == 200
    assert b"too short" in response.content
    # Twelve characters at least, and not a common password or one like the person's.
    for weak in ("eleven-char", "password1234", f"{nurse.username}-{nurse.username}"):
        response = nurse_client.post(
            "/accounts/password_change/",
            {"old_password": TEST_PASSWORD, "new_password1": weak, "new_password2": weak},
        )
        assert response.status_code == 200, weak
        assert response.context["form"].errors["new_password2"], weak


def test_password_change_succeeds_and_keeps_the_person_signed_in(nurse_client, nurse):
    new = "a-much-longer-passphrase-42"
    response = nurse_client.post(
        "/accounts/password_change/",
        {"old_password": TEST_PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.check_password(new)
    assert nurse_client.get("/incidents/").status_code == 200


def test_password_reset_sends_a_working_link(client, nurse):
    response = client.post("/accounts/password_reset/", {"email": nurse.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    assert b"Choose a new password" in response.content
    new = "another-long-passphrase-77"
    response = client.post(
        response.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.check_password(new)


def test_the_reset_link_points_at_the_site_whatever_host_was_asked(client, nurse, settings):
    """With a loose ALLOWED_HOSTS, the Host header must still not choose where the
    link, and its token, go."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://boundaries.example.org"

    client.post("/accounts/password_reset/", {"email": nurse.email}, HTTP_HOST="attacker.example")

    (message,) = mail.outbox
    assert "https://boundaries.example.org/accounts/reset/" in message.body
    assert "attacker.example" not in message.body


def test_password_reset_for_an_unknown_address_reveals_nothing(client, db):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.invalid"})
    assert response.status_code == 302
    assert len(mail.outbox) == 0


def _reset_by_email(client: Client, person, new: str, address: str = "10.0.0.1"):
    client.post("/accounts/password_reset/", {"email": person.email}, REMOTE_ADDR=address)
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[-1].body).group(1)
    form = client.get(link, follow=True, REMOTE_ADDR=address)
    return client.post(
        form.redirect_chain[-1][0],
        {"new_password1": new, "new_password2": new},
        REMOTE_ADDR=address,
    )


def test_guessing_the_current_password_at_a_signed_in_computer_locks_out_and_is_recorded(
    nurse_client, nurse, settings
):
    """The change form checks the current password as sign-in does (found by a review
    helper: unlimited guesses, none recorded)."""
    from boundaries import audit
    from boundaries.models import AuditEvent

    new = "a-much-longer-passphrase-42"
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        nurse_client.post(
            "/accounts/password_change/",
            {"old_password": f"guess-{attempt}", "new_password1": new, "new_password2": new},
        )
    failures = AuditEvent.objects.filter(action=audit.Action.SIGN_IN_FAILED, actor=nurse)
    assert failures.count() == settings.AXES_FAILURE_LIMIT
    response = nurse_client.post(
        "/accounts/password_change/",
        {"old_password": TEST_PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 429
    nurse.refresh_from_db()
    assert not nurse.check_password(new)


@pytest.mark.parametrize("how", ["change", "reset"])
def test_a_new_password_is_recorded(nurse, how):
    from boundaries import audit
    from boundaries.models import AuditEvent
    from tests.conftest import client_for

    new = "a-much-longer-passphrase-42"
    if how == "change":
        response = client_for(nurse).post(
            "/accounts/password_change/",
            {"old_password": TEST_PASSWORD, "new_password1": new, "new_password2": new},
        )
        action = audit.Action.PASSWORD_CHANGED
    else:
        response = _reset_by_email(Client(), nurse, new)
        action = audit.Action.PASSWORD_RESET
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.check_password(new)
    assert AuditEvent.objects.filter(action=action, actor=nurse).count() == 1


def test_a_password_reset_lifts_the_sign_in_pause_its_page_offers_it_for(client, nurse, settings):
    """Found by a review helper: still paused after the reset."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "nurse", "wrong")
    locked = sign_in(client, "nurse", TEST_PASSWORD)
    assert locked.status_code == 429 and b"reset your password" in locked.content
    new = "another-long-passphrase-77"
    assert _reset_by_email(client, nurse, new).status_code == 302
    assert sign_in(client, "nurse", new).status_code == 302
