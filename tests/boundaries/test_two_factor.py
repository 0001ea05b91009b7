"""Two-factor sign-in: who must use it, setting it up, codes that work once, throttling,
recovery through an administrator, and a half-signed-in session that reaches nothing."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from boundaries import audit, two_factor
from boundaries.access import SECOND_FACTOR_EXEMPT_URL_NAMES
from boundaries.models import AuditEvent, Role, User
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD, UserFactory

VERIFY = "/accounts/two-factor/"
SET_UP = "/accounts/two-factor/set-up/"


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the person's authenticator app shows now (or a later one)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def authenticator(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)


def password_step(client: Client, username: str, next_url: str = ""):
    data = {"username": username, "password": TEST_PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def signed_in_with_password_only(user) -> Client:
    client = Client()
    response = password_step(client, user.username)
    assert response.status_code == 302
    return client


@pytest.fixture
def supervisor_phone(supervisor):
    return authenticator(supervisor)


# --- Who is asked ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["supervisor", "manager", "administrator"])
def test_roles_that_read_others_reports_must_set_up_a_second_factor(request, persona):
    person = request.getfixturevalue(persona)
    client = Client()
    response = password_step(client, person.username)
    assert response["Location"] == VERIFY
    response = client.get(VERIFY)
    assert response.status_code == 302
    assert response["Location"].startswith(SET_UP)
    assert AuditEvent.objects.get().action == audit.Action.PASSWORD_ACCEPTED


@pytest.mark.parametrize("persona", ["supervisor", "manager", "administrator"])
def test_a_password_alone_opens_nothing_for_those_roles(request, persona):
    person = request.getfixturevalue(persona)
    authenticator(person)
    client = signed_in_with_password_only(person)
    for path in ("/", "/incidents/", "/admin/", "/support/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(VERIFY), path


def test_a_reporter_signs_in_with_a_password_by_default(client, nurse):
    response = password_step(client, "nurse")
    assert response["Location"] == "/"
    assert client.get("/incidents/").status_code == 200


def test_reporters_can_be_required_to_use_a_second_factor(client, nurse, settings):
    settings.BOUNDARIES = {**settings.BOUNDARIES, "OTP_REQUIRED_FOR_REPORTERS": True}
    password_step(client, "nurse")
    response = client.get("/incidents/")
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"].startswith(SET_UP)


def test_a_reporter_who_chose_a_second_factor_is_asked_for_it(client, nurse):
    device = authenticator(nurse)
    password_step(client, "nurse")
    assert client.get("/incidents/")["Location"].startswith(VERIFY)
    response = client.post(VERIFY, {"code": code_for(device), "next": "/incidents/"})
    assert response["Location"] == "/incidents/"
    assert client.get("/incidents/").status_code == 200


def test_the_sign_in_page_carries_next_through_the_second_step(client, supervisor_phone):
    response = password_step(client, "supervisor", next_url="/support/")
    assert response["Location"] == f"{VERIFY}?next=%2Fsupport%2F"
    response = client.post(VERIFY, {"code": code_for(supervisor_phone), "next": "/support/"})
    assert response["Location"] == "/support/"


def test_next_never_leaves_the_site(client, supervisor_phone):
    password_step(client, "supervisor")
    response = client.post(
        VERIFY, {"code": code_for(supervisor_phone), "next": "https://elsewhere.example/"}
    )
    assert response["Location"] == "/review/"


@pytest.mark.parametrize("next_url", ["incidents", "support.html", "//elsewhere.example/"])
@pytest.mark.parametrize("path", [VERIFY, "/accounts/two-factor/set-up/"])
def test_a_next_that_is_not_a_path_here_goes_home(manager_client, path, next_url):
    """A bare word once went to Django's redirect() as the name of a route: a server
    error."""
    response = manager_client.get(path, {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/reports/"  # a manager's home


# --- A half-signed-in session -------------------------------------------------------------


def _paths_without_arguments(patterns, prefix="", namespace=""):
    for entry in patterns:
        route = str(entry.pattern)
        if "<" in route or route.startswith("^"):
            continue
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _paths_without_arguments(entry.url_patterns, prefix + route, inner)
        elif isinstance(entry, URLPattern):
            yield prefix + route, f"{namespace}{entry.name}"


ROUTES = sorted(set(_paths_without_arguments(get_resolver().url_patterns)))


@pytest.mark.parametrize(("path", "name"), ROUTES)
def test_an_unverified_session_reaches_no_page_but_the_second_step(supervisor, path, name):
    """Every route in the URLconf, new ones included, as soon as they are added."""
    authenticator(supervisor)
    client = signed_in_with_password_only(supervisor)
    response = client.get(f"/{path}")
    if name in SECOND_FACTOR_EXEMPT_URL_NAMES:
        assert not response.get("Location", "").startswith(SET_UP)
        return
    assert response.status_code == 302, path
    assert response["Location"].startswith(VERIFY), path
    response = client.post(f"/{path}", {"anything": "at all"})
    assert response.status_code == 302, path
    assert response["Location"].startswith(VERIFY), path


def test_an_unverified_session_cannot_set_up_a_second_device_to_get_round_the_first(
    supervisor, supervisor_phone
):
    client = signed_in_with_password_only(supervisor)
    response = client.get(SET_UP)
    assert response["Location"].startswith(VERIFY)
    response = client.post(SET_UP, {"code": "123456"})
    assert response["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=supervisor).count() == 1


def test_a_half_signed_in_session_still_expires(supervisor, supervisor_phone, settings):
    from tests.boundaries.test_sessions import age_session

    client = signed_in_with_password_only(supervisor)
    client.get(VERIFY)
    age_session(
        client, started_ago=3600, seen_ago=settings.SESSION_IDLE_TIMEOUT.total_seconds() + 5
    )
    response = client.get(VERIFY)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_signing_out_at_the_second_step_ends_the_session_on_the_server(
    supervisor, supervisor_phone
):
    from django.contrib.sessions.models import Session

    client = signed_in_with_password_only(supervisor)
    key = client.session.session_key
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert not Session.objects.filter(session_key=key).exists()


# --- Setting it up -----------------------------------------------------------------------


def test_setting_up_shows_a_qr_code_and_the_key_then_backup_codes_once(supervisor):
    client = signed_in_with_password_only(supervisor)
    response = client.get(SET_UP)
    assert response.status_code == 200
    assert b'src="data:image/svg+xml' in response.content
    device = TOTPDevice.objects.get(user=supervisor, confirmed=False)
    assert two_factor.secret_for_typing(device).encode() in response.content
    # Reloading shows the same key until it is confirmed.
    client.get(SET_UP)
    assert TOTPDevice.objects.filter(user=supervisor).count() == 1

    response = client.post(SET_UP, {"code": "12345"})
    assert b"Type the 6 digits" in response.content
    assert b'value="12345"' in response.content

    response = client.post(SET_UP, {"code": code_for(device)})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == two_factor.BACKUP_CODE_COUNT
    for code in codes:
        assert code.encode() in response.content
    device.refresh_from_db()
    assert device.confirmed
    assert StaticToken.objects.filter(device__user=supervisor).count() == len(codes)
    assert client.get("/incidents/").status_code == 200
    assert AuditEvent.objects.filter(action=audit.Action.TWO_FACTOR_ENROLLED).count() == 1
    # Shown once: the page now sends them on.
    assert client.get(SET_UP).status_code == 302


def test_a_wrong_code_does_not_confirm_the_set_up(supervisor):
    client = signed_in_with_password_only(supervisor)
    client.get(SET_UP)
    device = TOTPDevice.objects.get(user=supervisor)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(SET_UP, {"code": wrong})
    assert b"That code did not work" in response.content
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/incidents/").status_code == 302
    # Recorded as a refused code, as at the second step (found by a review helper).
    refused = AuditEvent.objects.filter(actor=supervisor, outcome=audit.Outcome.FAILURE)
    assert list(refused.values_list("action", flat=True)) == [audit.Action.SECOND_FACTOR_FAILED]


def test_a_key_shown_to_another_session_never_becomes_the_persons_authenticator(supervisor):
    """Someone with the password who opened set-up and copied the key: when the person
    sets up, their page shows a key of its own and the copied one stops existing (found
    by a review helper: both saw one key, so the copy kept working)."""
    stranger = signed_in_with_password_only(supervisor)
    stranger.get(SET_UP)
    copied = TOTPDevice.objects.get(user=supervisor)
    owner = signed_in_with_password_only(supervisor)
    page = owner.get(SET_UP)
    device = TOTPDevice.objects.get(user=supervisor)
    assert device.pk != copied.pk
    assert two_factor.secret_for_typing(copied).encode() not in page.content
    owner.post(SET_UP, {"code": code_for(device)})
    device.refresh_from_db()
    assert device.confirmed
    assert list(TOTPDevice.objects.filter(user=supervisor)) == [device]
    # The stranger's set-up page now holds nothing to confirm.
    response = stranger.post(SET_UP, {"code": code_for(copied)})
    assert response.status_code != 200 or "codes" not in (response.context or {})
    assert list(TOTPDevice.objects.filter(user=supervisor)) == [device]


def test_the_set_up_page_needs_a_signed_in_person(client, db):
    response = client.get(SET_UP)
    assert response["Location"].startswith("/accounts/login/")


def test_the_second_step_answers_only_get_and_post(supervisor):
    client = signed_in_with_password_only(supervisor)
    assert client.put(VERIFY).status_code == 405
    assert client.put(SET_UP).status_code == 405


# --- Codes ---------------------------------------------------------------------------------


def test_a_code_from_the_app_lets_the_person_in_and_is_recorded(supervisor, supervisor_phone):
    client = signed_in_with_password_only(supervisor)
    before = client.session.session_key
    response = client.post(VERIFY, {"code": code_for(supervisor_phone)})
    assert response["Location"] == "/review/"
    assert client.session.session_key != before
    assert client.get("/incidents/").status_code == 200
    event = AuditEvent.objects.get(action=audit.Action.SIGN_IN_SUCCEEDED)
    assert (event.actor, event.object_type) == (supervisor, "otp_totp.totpdevice")


def test_a_code_cannot_be_used_twice(supervisor, supervisor_phone):
    code = code_for(supervisor_phone)
    first = signed_in_with_password_only(supervisor)
    assert first.post(VERIFY, {"code": code})["Location"] == "/review/"

    second = signed_in_with_password_only(supervisor)
    # Let the throttle from any earlier failure pass: this is about replay alone.
    response = second.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert b"That code did not work" in response.content
    assert second.get("/incidents/").status_code == 302
    failed = AuditEvent.objects.get(action=audit.Action.SECOND_FACTOR_FAILED)
    assert failed.outcome == audit.Outcome.FAILURE


def test_repeated_wrong_codes_are_slowed_down(supervisor, supervisor_phone):
    client = signed_in_with_password_only(supervisor)
    wrong = f"{(int(code_for(supervisor_phone)) + 1) % 1_000_000:06d}"
    client.post(VERIFY, {"code": wrong})
    # Even the right code is refused while the wait after a wrong one lasts.
    response = client.post(VERIFY, {"code": code_for(supervisor_phone)})
    assert b"Too many wrong codes" in response.content
    assert client.get("/incidents/").status_code == 302
    for _ in range(3):
        TOTPDevice.objects.filter(pk=supervisor_phone.pk).update(
            throttling_failure_timestamp=timezone.now() - timedelta(hours=1)
        )
        client.post(VERIFY, {"code": wrong})
    supervisor_phone.refresh_from_db()
    assert supervisor_phone.throttling_failure_count == 4
    allowed, _ = supervisor_phone.verify_is_allowed()
    assert not allowed
    # Once the wait (8 s after four failures) is over, the right code works.
    TOTPDevice.objects.filter(pk=supervisor_phone.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=9)
    )
    response = client.post(VERIFY, {"code": code_for(supervisor_phone, steps_ahead=1)})
    assert response["Location"] == "/review/"


def test_a_backup_code_works_once(supervisor, supervisor_phone):
    codes = two_factor.replace_backup_codes(user=supervisor)
    client = signed_in_with_password_only(supervisor)
    response = client.post(VERIFY, {"code": codes[0].upper()})
    assert response["Location"] == "/review/"
    assert StaticToken.objects.filter(device__user=supervisor).count() == len(codes) - 1
    event = AuditEvent.objects.get(action=audit.Action.SIGN_IN_SUCCEEDED)
    assert event.object_type == "otp_static.staticdevice"

    again = signed_in_with_password_only(supervisor)
    response = again.post(VERIFY, {"code": codes[0]})
    assert b"That code did not work" in response.content
    assert again.get("/incidents/").status_code == 302


def test_new_backup_codes_replace_the_old_ones(supervisor):
    old = two_factor.replace_backup_codes(user=supervisor)
    new = two_factor.replace_backup_codes(user=supervisor)
    tokens = set(StaticToken.objects.values_list("token", flat=True))
    assert tokens == set(new)
    assert not tokens & set(old)
    assert StaticDevice.objects.filter(user=supervisor).count() == 1


def test_the_code_form_says_what_is_wrong_and_keeps_what_was_typed(supervisor, supervisor_phone):
    client = signed_in_with_password_only(supervisor)
    response = client.post(VERIFY, {"code": "12;34"})
    assert b"letters and digits only" in response.content
    assert b'value="12;34"' in response.content
    response = client.post(VERIFY, {"code": ""})
    assert b"This field is required" in response.content


# --- Recovery through an administrator -----------------------------------------------------


def test_an_administrator_resets_someones_two_factor_sign_in(
    administrator_client, administrator, supervisor, supervisor_phone
):
    two_factor.replace_backup_codes(user=supervisor)
    supervisor_session = signed_in_with_password_only(supervisor)
    supervisor_session.post(VERIFY, {"code": code_for(supervisor_phone)})
    assert supervisor_session.get("/incidents/").status_code == 200

    response = administrator_client.post(
        "/admin/boundaries/user/",
        {"action": "reset_two_factor", "_selected_action": [supervisor.pk]},
        follow=True,
    )
    assert b"Two-factor sign-in was reset for 1 person" in response.content
    assert not TOTPDevice.objects.filter(user=supervisor).exists()
    assert not StaticDevice.objects.filter(user=supervisor).exists()
    event = AuditEvent.objects.get(action=audit.Action.TWO_FACTOR_RESET)
    assert (event.actor, event.object_type, event.object_id) == (
        administrator,
        "boundaries.user",
        str(supervisor.pk),
    )
    # Their session no longer counts as verified: they set up a new phone.
    response = supervisor_session.get("/incidents/")
    assert response["Location"].startswith(VERIFY)
    assert supervisor_session.get(response["Location"])["Location"].startswith(SET_UP)


def test_the_admin_list_shows_who_has_set_up_two_factor(administrator_client, supervisor_phone):
    response = administrator_client.get("/admin/boundaries/user/")
    assert response.status_code == 200
    assert b"Two-factor set up" in response.content


def test_the_admin_site_never_shows_secret_keys_or_backup_codes(administrator_client):
    for path in ("/admin/otp_totp/totpdevice/", "/admin/otp_static/staticdevice/"):
        assert administrator_client.get(path).status_code == 404


def test_an_administrator_without_a_second_factor_is_kept_out_of_the_admin_site(
    administrator,
):
    client = signed_in_with_password_only(administrator)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)


# --- The demo ------------------------------------------------------------------------------


def test_the_demo_prints_a_way_in_for_every_role_with_a_second_step(db, capsys):
    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    out = capsys.readouterr().out
    for username in ("supervisor", "supervisor2", "manager", "admin"):
        line = re.search(rf"^  {username} +backup codes: (.+)$", out, re.MULTILINE)
        assert line, username
        code = line.group(1).split()[0]
        client = Client()
        client.post("/accounts/login/", {"username": username, "password": "demo-password-123"})
        response = client.post(VERIFY, {"code": code})
        assert response.status_code == 302, username
        assert not response["Location"].startswith("/accounts/"), username


def test_running_the_demo_again_changes_only_the_backup_codes(db, capsys):
    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    keys = dict(TOTPDevice.objects.values_list("user__username", "key"))
    first_codes = set(StaticToken.objects.values_list("token", flat=True))
    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    assert dict(TOTPDevice.objects.values_list("user__username", "key")) == keys
    assert set(keys) == {"supervisor", "supervisor2", "manager", "admin"}
    assert not set(StaticToken.objects.values_list("token", flat=True)) & first_codes


def test_the_demo_run_again_with_another_password_never_prints_one_that_fails(db, capsys):
    # Found by a docs review: with var/demo-password lost and the database kept, make run
    # made a new one and printed "(as when first created)", and nothing said that the
    # password in var/demo-password would fail, nor how to start again.
    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    assert "  Password: demo-password-123" in capsys.readouterr().out
    call_command("seed_demo", password="another-password-456", months=1, without_debug=True)
    out = capsys.readouterr().out
    assert "another-password-456" not in out
    assert "  Password: not the one given: these accounts were created earlier" in out
    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    assert "  Password: demo-password-123" in capsys.readouterr().out


def test_the_demo_with_some_accounts_made_now_says_which_take_the_password(db, capsys):
    # Found by a review helper: with one demo account missing (say, one a later version
    # adds), the run created it and printed the new password as the one every demo
    # account shares, though the others kept the one from their first run.
    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    User.objects.filter(username="nurse").update(username="nurse-was")
    capsys.readouterr()
    call_command("seed_demo", password="another-password-456", months=1, without_debug=True)
    out = capsys.readouterr().out
    assert "  Password: another-password-456 for nurse (created now); the others " in out
    assert User.objects.get(username="nurse").check_password("another-password-456")
    assert User.objects.get(username="supervisor").check_password("demo-password-123")


def test_the_demo_never_touches_real_accounts(db, capsys):
    UserFactory(username="admin", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    assert not TOTPDevice.objects.filter(user__username="admin").exists()
    assert not StaticDevice.objects.filter(user__username="admin").exists()


@pytest.mark.parametrize("path", ["/incidents/1/", "/admin/boundaries/user/1/change/"])
def test_routes_with_ids_are_held_back_too(supervisor, supervisor_phone, path):
    client = signed_in_with_password_only(supervisor)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)


def test_a_reporter_can_choose_to_set_up_two_factor_sign_in(nurse_client, nurse):
    response = nurse_client.get("/accounts/password_change/")
    assert b'href="/accounts/two-factor/set-up/"' in response.content
    nurse_client.get(SET_UP)
    device = TOTPDevice.objects.get(user=nurse)
    data = {"password": TEST_PASSWORD, "code": code_for(device)}
    response = nurse_client.post(SET_UP, data)
    assert len(response.context["codes"]) == two_factor.BACKUP_CODE_COUNT
    response = nurse_client.get(SET_UP, follow=True)
    assert b"already set up" in response.content


def test_setting_up_from_a_session_signed_in_earlier_asks_for_the_password(nurse_client, nurse):
    # Found by a review helper: anyone at a computer left signed in could put their own
    # phone on the account (and see its backup codes), with no password asked.
    from axes.models import AccessAttempt

    nurse_client.get(SET_UP)
    device = TOTPDevice.objects.get(user=nurse)
    response = nurse_client.post(
        SET_UP, {"password": "not-her-password", "code": code_for(device)}
    )
    assert response.status_code == 200 and "codes" not in response.context
    assert "password" in response.context["form"].errors
    assert not TOTPDevice.objects.filter(user=nurse, confirmed=True).exists()
    assert AccessAttempt.objects.filter(username="nurse").exists()  # counts towards lockout


@pytest.mark.parametrize("since", ["second factor reset", "given a supervisor's role"])
def test_a_session_that_owes_the_second_step_since_it_signed_in_shows_the_password_to_set_up(
    nurse, supervisor, administrator, since
):
    # Found by a hostile-insider review: a session signed in earlier that came to owe the
    # second step (its second factor reset by an administrator, or a role given that
    # needs one) was taken for one straight after its password, so anyone at a computer
    # left signed in could put their own phone on the account, with no password.
    if since == "second factor reset":
        person, client = supervisor, client_for(supervisor)  # verified this morning
        two_factor.reset_second_factor(user=supervisor, by=administrator)
    else:
        person, client = nurse, client_for(nurse)  # a reporter, signed in this morning
        nurse.role = Role.SUPERVISOR
        nurse.save()
    assert client.get("/review/", follow=True).redirect_chain[-1][0].startswith(SET_UP)
    client.get(SET_UP)
    device = TOTPDevice.objects.get(user=person, confirmed=False)

    response = client.post(SET_UP, {"code": code_for(device)})

    assert response.status_code == 200 and "codes" not in response.context
    assert "password" in response.context["form"].errors
    assert not TOTPDevice.objects.filter(user=person, confirmed=True).exists()
    assert client.get("/review/").status_code == 302
    # With the password, the person sets it up from there.
    response = client.post(SET_UP, {"password": TEST_PASSWORD, "code": code_for(device)})
    assert "codes" in response.context
    assert client.get("/review/").status_code == 200


def test_a_session_let_in_without_its_second_step_is_not_taken_for_one_signing_in_later(
    client, nurse, administrator
):
    # Found by a review helper: a reporter who chose two-factor sign-in lost her phone at
    # the second step; an administrator reset it and she went in with her password
    # alone. The mark of a session that has just shown its password stayed, so once she
    # was made a supervisor, anyone at that computer, hours later, could put their own
    # phone on her account with no password asked.
    authenticator(nurse)
    password_step(client, "nurse")
    two_factor.reset_second_factor(user=nurse, by=administrator)
    assert client.get(VERIFY)["Location"] == "/incidents/"
    assert client.get("/incidents/").status_code == 200
    nurse.role = Role.SUPERVISOR
    nurse.save()
    assert client.get("/review/", follow=True).redirect_chain[-1][0].startswith(SET_UP)
    device = TOTPDevice.objects.get(user=nurse, confirmed=False)

    response = client.post(SET_UP, {"code": code_for(device)})

    assert "codes" not in response.context
    assert "password" in response.context["form"].errors
    assert not TOTPDevice.objects.filter(user=nurse, confirmed=True).exists()


def test_turning_on_two_factor_sign_in_ends_the_reporters_other_sessions(nurse):
    # Found by a review helper: a session signed in earlier with the password alone (the
    # other person's, if it was seen) carried on reading her incidents with no code.
    earlier = Client()
    earlier.post("/accounts/login/", {"username": "nurse", "password": TEST_PASSWORD})
    assert earlier.get("/incidents/").status_code == 200
    hers = Client()
    hers.post("/accounts/login/", {"username": "nurse", "password": TEST_PASSWORD})
    hers.get(SET_UP)
    device = TOTPDevice.objects.get(user=nurse)
    data = {"password": TEST_PASSWORD, "code": code_for(device)}
    assert "codes" in hers.post(SET_UP, data).context
    response = earlier.get("/incidents/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert hers.get("/incidents/").status_code == 200  # her own session carries on
