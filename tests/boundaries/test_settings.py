"""Settings come from the environment and refuse unsafe or malformed values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from boundaries.settings import env_bool

ROOT = Path(__file__).resolve().parents[2]


def run_django(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    # This interpreter and manage.py, with arguments from the tests themselves.
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("On", True), ("false", False), ("0", False)],
)
def test_debug_flag_accepts_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["", "  "])
@pytest.mark.parametrize("default", [True, False])
def test_an_empty_flag_is_its_default(monkeypatch, raw, default):
    """Found by review: empty read as false, so a blank ``DJANGO_HTTPS=`` line in an
    environment file turned off the HTTPS redirect, secure cookies and HSTS."""
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", default) is default


def test_a_blank_https_line_keeps_https_on_in_production():
    shown = run_django(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE)",
        DJANGO_HTTPS="",
        DJANGO_LOG_LEVEL="",
        DJANGO_SECRET_KEY="k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
        DJANGO_ALLOWED_HOSTS="boundaries.example.org",
    )
    assert shown.returncode == 0, shown.stderr[-400:]
    assert shown.stdout.strip().splitlines()[-1] == "True True"


def test_blank_text_settings_take_their_defaults():
    """A blank line in an environment file is the variable unset: found by review, a
    blank SITE_URL made every emailed link relative, a blank DJANGO_STATIC_ROOT sent
    collectstatic into the working folder, and a blank PATIENT_REF_PATTERN refused every
    hospital number."""
    blank = [
        "SITE_URL",
        "DJANGO_STATIC_ROOT",
        "DEFAULT_FROM_EMAIL",
        "OTP_ISSUER",
        "ORGANISATION_NAME",
        "PATIENT_REF_SCHEME",
        "PATIENT_REF_PATTERN",
        "PATIENT_REF_EXAMPLE",
        "EAP_CONTACT",
        "TIME_ZONE",
        "DJANGO_ALLOWED_HOSTS",
    ]
    show = (
        "from django.conf import settings as s; b = s.BOUNDARIES; print(repr(["
        "s.SITE_URL, s.STATIC_ROOT.name, s.DEFAULT_FROM_EMAIL, s.OTP_TOTP_ISSUER, "
        "b['ORGANISATION_NAME'], b['PATIENT_REF_SCHEME'], b['PATIENT_REF_PATTERN'], "
        "b['PATIENT_REF_EXAMPLE'], bool(b['EAP_CONTACT']), s.TIME_ZONE, s.ALLOWED_HOSTS]))"
    )
    shown = run_django("shell", "-c", show, DJANGO_DEBUG="true", **dict.fromkeys(blank, " "))
    assert shown.returncode == 0, shown.stderr[-400:]
    assert shown.stdout.strip().splitlines()[-1] == repr(
        [
            "http://127.0.0.1:8000",
            "staticfiles",
            "Boundaries <boundaries@localhost>",
            "Boundaries",
            "Boundaries demo trust",
            "nhs",
            "[A-Z]{0,3}[0-9]{5,10}",
            "for example RX123456",
            True,
            "Europe/London",
            ["localhost", "127.0.0.1", "[::1]"],
        ]
    )


def test_debug_flag_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="must be true or false"):
        env_bool("SOME_FLAG", False)


def test_app_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = run_django("check", DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_app_refuses_a_malformed_debug_flag():
    result = run_django("check", DJANGO_DEBUG="yes please", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be true or false" in result.stderr


def test_app_refuses_a_patient_reference_pattern_that_is_not_a_regular_expression():
    """Found by a review helper: it started, and then every filing was a server error."""
    result = run_django(
        "check",
        DJANGO_SECRET_KEY="x" * 50,
        PATIENT_REF_SCHEME="hospital",
        PATIENT_REF_PATTERN="[A-Z]{0,3}[0-9",
    )
    assert result.returncode != 0
    assert "PATIENT_REF_PATTERN is not a regular expression" in result.stderr


def test_the_health_check_answers_plain_http_under_production_settings(settings, db):
    """A load balancer asking the app server directly, by its own address and over plain
    HTTP, gets the answer, not a redirect to HTTPS nor a refused Host (found by review
    helpers)."""
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["boundaries.example.org"]
    assert Client().get("/healthz", HTTP_HOST="10.0.3.17:8000").status_code == 200
    assert Client().get("/healthz", HTTP_HOST="boundaries.example.org").status_code == 200
    site = Client().get("/accounts/login/", HTTP_HOST="boundaries.example.org")
    assert site.status_code == 301
    assert Client().get("/accounts/login/", HTTP_HOST="10.0.3.17:8000").status_code == 400


def test_production_settings_pass_the_deploy_checks_without_warnings():
    result = run_django(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
        DJANGO_ALLOWED_HOSTS="boundaries.example.org",
        SITE_URL="https://boundaries.example.org",
        EMAIL_HOST="smtp.example.org",
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_deploy_checks_warn_when_email_is_not_configured():
    result = run_django(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
        DJANGO_ALLOWED_HOSTS="boundaries.example.org",
        SITE_URL="https://boundaries.example.org",
    )
    assert result.returncode != 0
    assert "boundaries.W001" in result.stderr


def test_production_cookies_are_secure_and_host_bound():
    script = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE,"
        " s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)"
    )
    result = run_django("shell", "--no-imports", "-c", script, DJANGO_SECRET_KEY="x" * 50)
    assert result.stdout.split() == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "True",
        "True",
    ], result.stderr


def test_default_database_is_sqlite_in_an_ignored_folder():
    script = "from django.conf import settings as s; print(s.DATABASES['default']['NAME'])"
    result = run_django("shell", "--no-imports", "-c", script, DJANGO_DEBUG="true")
    assert result.stdout.strip() == str(ROOT / "var" / "db.sqlite3"), result.stderr
    assert "/var/" in (ROOT / ".gitignore").read_text()


def test_connections_are_health_checked_so_a_database_restart_is_survived(settings):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
