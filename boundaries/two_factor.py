"""Two-factor sign-in: authenticator-app codes (TOTP) and single-use backup codes.

Built on django-otp. A TOTP device remembers the last time step it accepted, so a code
cannot be used twice; each wrong code doubles the wait before the next attempt
(OTP_TOTP_THROTTLE_FACTOR, OTP_STATIC_THROTTLE_FACTOR); a backup code is deleted when it
is used. Whether a person must use any of this is decided in ``boundaries.access``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import segno
from django.contrib.auth import update_session_auth_hash
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from boundaries import audit
from boundaries.access import SIGNING_IN_SESSION_KEY
from boundaries.models import User

BACKUP_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_CODES_NAME = "Backup codes"


def has_second_factor(user: User) -> bool:
    """A confirmed authenticator app, or backup codes that are not used up."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or StaticToken.objects.filter(device__user=user, device__confirmed=True).exists()
    )


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


SETTING_UP_KEY = "_boundaries_setting_up_device"


@transaction.atomic
def device_being_set_up(user: User, session) -> TOTPDevice:
    """The unconfirmed authenticator this session's set-up page shows, kept between its
    page loads so the QR code stays the same until the person confirms it. Each session
    gets a key of its own, and making one withdraws any other: a key someone else saw
    (with the password, in another session) can never become the person's."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(pk=session.get(SETTING_UP_KEY), user=user, confirmed=False)
        .first()
    )
    if device is None:
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
        session[SETTING_UP_KEY] = device.pk
    return device


def secret_for_typing(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for authenticator apps that take it typed."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_code_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// address as a QR code, an SVG data: URI (no inline script or style)."""
    return segno.make(device.config_url, error="m").svg_data_uri(
        scale=5, dark="#000", light="#fff", border=4
    )


@dataclass(frozen=True)
class Attempt:
    device: Device | None
    throttled: bool = False

    @property
    def accepted(self) -> bool:
        return self.device is not None


def _check(device: Device | None, code: str) -> Attempt:
    if device is None:
        return Attempt(None)
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return Attempt(None, throttled=True)
    return Attempt(device if device.verify_token(code) else None)


@dataclass(frozen=True)
class SetUp:
    attempt: Attempt
    backup_codes: list[str]


@transaction.atomic
def confirm_set_up(*, user: User, device_id: int, code: str, request: HttpRequest) -> SetUp:
    """Confirm a new authenticator with a code from it. On success the session counts as
    verified and the person's new backup codes are returned, to be shown once."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(pk=device_id, user=user, confirmed=False)
        .first()
    )
    attempt = _check(device, code)
    if not attempt.accepted:
        # Refused like a wrong code at the second step, and recorded like one.
        _record_refused_code(user=user, device=device, request=request)
        return SetUp(attempt, [])
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    codes = replace_backup_codes(user=user)
    # Someone who turns on two-factor sign-in may fear their password was seen: every
    # other session, signed in with the password alone, ends; this one carries on.
    user.end_sessions()
    update_session_auth_hash(request, user)
    _sign_in_with(request, device)
    audit.record(action=audit.Action.TWO_FACTOR_ENROLLED, actor=user, request=request)
    return SetUp(attempt, codes)


@transaction.atomic
def replace_backup_codes(*, user: User) -> list[str]:
    """A fresh set of single-use backup codes; any earlier ones stop working."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=BACKUP_CODES_NAME, defaults={"confirmed": True}
    )
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def verify_second_factor(*, user: User, code: str, request: HttpRequest) -> Attempt:
    """Check a code typed at the second step: six digits go to the authenticator app,
    anything else is tried as a backup code. The device row is locked while it is
    checked, so two requests cannot both spend the same code."""
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
    attempt = _check(device, code)
    if attempt.accepted:
        _sign_in_with(request, attempt.device)
        audit.record(
            action=audit.Action.SIGN_IN_SUCCEEDED,
            actor=user,
            request=request,
            target=attempt.device,
        )
    else:
        _record_refused_code(user=user, device=device, request=request)
    return attempt


def _record_refused_code(*, user: User, device: Device | None, request: HttpRequest) -> None:
    audit.record(
        action=audit.Action.SECOND_FACTOR_FAILED,
        actor=user,
        request=request,
        target=device,
        outcome=audit.Outcome.FAILURE,
    )


def _sign_in_with(request: HttpRequest, device: Device) -> None:
    otp_login(request, device)
    # The password step is behind it: a later need for a second step (a reset, say)
    # finds this session signed in earlier.
    request.session.pop(SIGNING_IN_SESSION_KEY, None)
    # The session now carries more trust: give it a new key.
    request.session.cycle_key()


@transaction.atomic
def reset_second_factor(*, user: User, by: User, request: HttpRequest | None = None) -> int:
    """An administrator's recovery path for someone who lost their phone and their
    backup codes: remove every device, so that they set up a new one at their next
    sign-in. Returns how many devices were removed."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    audit.record(action=audit.Action.TWO_FACTOR_RESET, actor=by, request=request, target=user)
    return removed
