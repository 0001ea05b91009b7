"""What an operator meets when a setting is wrong or the database is not there: the
mistake is refused in a line that names the variable or says what to do, not at the end
of a traceback about something else (from an operator's review of the cron commands)."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.db import OperationalError, ProgrammingError, connection

from boundaries.management.base import DatabaseCommand
from boundaries.settings import env_int
from tests.boundaries.test_settings import run_django

PROD = {
    "DJANGO_SECRET_KEY": "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
    "DJANGO_ALLOWED_HOSTS": "boundaries.example.org",
    "SITE_URL": "https://boundaries.example.org",
    "EMAIL_HOST": "smtp.example.org",
}


def last_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def assert_refused_at_start(result: subprocess.CompletedProcess, message: str) -> None:
    """The command stopped, its last line the configuration error starting ``message``."""
    assert result.returncode != 0, "the setting was accepted"
    assert last_line(result).startswith(
        f"django.core.exceptions.ImproperlyConfigured: {message}"
    ), last_line(result)


# Malformed settings: the last line names the variable.


@pytest.mark.parametrize(
    "url", ["nonsense", "postgres//root@127.0.0.1/boundaries", "postgres://root@db:abc/x"]
)
def test_a_malformed_database_url_is_refused_naming_the_variable(url):
    # Was dj_database_url's own error at the end of a traceback ("Scheme '://' is
    # unknown..." or "This string is not a valid url..."), never naming DATABASE_URL.
    assert_refused_at_start(run_django("check", DATABASE_URL=url, **PROD), "DATABASE_URL is not")


def test_a_malformed_database_url_is_not_repeated_in_the_error():
    """The address may carry the database password: the error does not echo it."""
    result = run_django("check", DATABASE_URL="postgres://root:s3cret@db:abc/x", **PROD)
    assert result.returncode != 0
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize("level", ["debug", "Warning", " ERROR ", ""])
def test_a_log_level_in_any_case_is_accepted(level):
    # DJANGO_LOG_LEVEL=debug stopped every command with "ValueError: Unable to
    # configure root logger".
    result = run_django("check", DJANGO_LOG_LEVEL=level, **PROD)
    assert result.returncode == 0, result.stderr[-400:]


@pytest.mark.parametrize("level", ["LOUD", "notset", "WARN", "FATAL", "10"])
def test_a_log_level_other_than_the_five_documented_is_refused_naming_the_variable(level):
    # NOTSET, WARN and FATAL were accepted: the logging module knows them, the
    # README names five levels (NOTSET logs everything, as DEBUG does).
    result = run_django("check", DJANGO_LOG_LEVEL=level, **PROD)
    assert_refused_at_start(result, "DJANGO_LOG_LEVEL must be")


@pytest.mark.parametrize(("value", "scheme"), [("NHS", "nhs"), (" Hospital ", "hospital")])
def test_the_patient_reference_scheme_in_any_case_is_accepted(value, scheme):
    # Found by a docs review: NHS was refused, with an error that did not show it.
    show = "from django.conf import settings; print(settings.BOUNDARIES['PATIENT_REF_SCHEME'])"
    shown = run_django("shell", "-c", show, PATIENT_REF_SCHEME=value, **PROD)
    assert shown.returncode == 0, shown.stderr[-400:]
    assert shown.stdout.strip().splitlines()[-1] == scheme


def test_an_unknown_patient_reference_scheme_is_refused_showing_it():
    result = run_django("check", PATIENT_REF_SCHEME="mrn", **PROD)
    assert_refused_at_start(result, "PATIENT_REF_SCHEME must be nhs or hospital, not 'mrn'")


def local_zone(zone: str) -> subprocess.CompletedProcess:
    """What the app reads the local clock as, with TIME_ZONE set to ``zone``."""
    return run_django(
        "shell",
        "-c",
        "from django.utils import timezone; print(timezone.localtime().tzinfo)",
        TIME_ZONE=zone,
        **PROD,
    )


@pytest.mark.parametrize("zone", ["Europe", "Europe/Lndon", "../etc/passwd"])
def test_a_time_zone_the_app_cannot_use_is_refused_naming_the_variable(zone):
    # Found by a review helper: a folder of the zone database ("Europe") passed Django's
    # start-up check and then failed every page that shows a time (IsADirectoryError);
    # a misspelt name stopped at start, but as a traceback's "Incorrect timezone".
    result = local_zone(zone)
    assert result.returncode != 0
    assert last_line(result) == (
        "django.core.exceptions.ImproperlyConfigured: TIME_ZONE must be the name of a time "
        f"zone such as Europe/London, not {zone!r}."
    ), last_line(result)


@pytest.mark.parametrize(("zone", "expected"), [("", "Europe/London"), (" UTC ", "UTC")])
def test_an_empty_time_zone_is_the_default_and_spaces_are_ignored(zone, expected):
    # An empty TIME_ZONE (a blank line in an environment file) failed every page that
    # shows a time: "ZoneInfo keys must be normalized relative paths".
    result = local_zone(zone)
    assert result.stdout.strip().splitlines()[-1] == expected, result.stderr[-400:]


# Whole numbers outside their range: refused at start, naming the variable and range.


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # Nobody could sign in: the IndexError in boundaries/network.py was a 500 on the
        # sign-in POST (and with X-Forwarded-For, a client-chosen address).
        ("DJANGO_PROXY_COUNT", "-1"),
        # Nobody could sign in: axes answered a correct password with 429 "locked out".
        ("LOGIN_FAILURE_LIMIT", "0"),
        # Signed out at the first request after signing in.
        ("SESSION_ABSOLUTE_HOURS", "0"),
        ("SESSION_IDLE_MINUTES", "0"),
        # The lockout never applied.
        ("LOGIN_COOLOFF_MINUTES", "-5"),
        # Every incident was overdue when filed.
        ("REVIEW_TARGET_DAYS", "-1"),
        ("REVIEW_TARGET_DAYS_HIGH", "0"),
        # Was "OverflowError: Python int too large to convert to C int", no variable named.
        ("SESSION_IDLE_MINUTES", "99999999999999"),
        ("EMAIL_PORT", "70000"),
    ],
)
def test_out_of_range_whole_numbers_are_refused_at_start(name, value):
    assert_refused_at_start(run_django("check", **{**PROD, name: value}), f"{name} must be ")


def test_the_refusal_says_what_range_is_allowed(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "-1")
    with pytest.raises(ImproperlyConfigured) as refused:
        env_int("SOME_NUMBER", 0, minimum=0, maximum=10)
    assert str(refused.value) == "SOME_NUMBER must be from 0 to 10, not '-1'."


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "SOME_NUMBER must be at least 1, not '0'."),
        ("ten", "SOME_NUMBER must be a whole number (at least 1), not 'ten'."),
        ("9" * 5000, "SOME_NUMBER must be a whole number (at least 1), not '9999"),
    ],
)
def test_a_whole_number_without_a_maximum_is_refused_below_its_minimum(monkeypatch, raw, message):
    monkeypatch.setenv("SOME_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        env_int("SOME_NUMBER", 5, minimum=1)


def test_a_long_value_is_shortened_in_the_error(monkeypatch):
    # A 5,000-digit number was echoed whole, burying the message in the operator's log.
    monkeypatch.setenv("SOME_NUMBER", "9" * 5000)
    with pytest.raises(ImproperlyConfigured) as refused:
        env_int("SOME_NUMBER", 5, minimum=1)
    assert str(refused.value) == (
        f"SOME_NUMBER must be a whole number (at least 1), not {'9' * 40!r}... (5000 characters)."
    )


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", 0), ("10", 10), (" 3 ", 3), ("", 4), (None, 4)]
)
def test_whole_numbers_inside_their_range_are_accepted(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("SOME_NUMBER", raising=False)
    else:
        monkeypatch.setenv("SOME_NUMBER", raw)
    assert env_int("SOME_NUMBER", 4, minimum=0, maximum=10) == expected


def test_every_default_is_inside_its_own_range():
    """The defaults pass the same checks as a value from the environment."""
    result = run_django("check", **PROD)
    assert result.returncode == 0, result.stderr[-400:]


# The project's commands: an unreachable or empty database is one line and a failure.

UNREACHABLE = "postgres://root@127.0.0.1:1/boundaries"


@pytest.mark.parametrize(
    "command",
    [
        ["send_incident_digests"],
        ["purge_expired", "--dry-run"],
        ["verify_audit"],
        ["monthly_report", "--output", "/tmp/"],  # noqa: S108 (fails before writing)
    ],
)
def test_an_unreachable_database_is_one_line_not_a_traceback(command):
    # Was a 75-line traceback ending in psycopg's "Connection refused".
    result = run_django(*command, DATABASE_URL=UNREACHABLE, DJANGO_DEBUG="true")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, f"{len(result.stderr.splitlines())} lines"
    assert last_line(result).startswith("CommandError: The database cannot be reached (")
    assert last_line(result).endswith(": check DATABASE_URL and that the server is running."), (
        last_line(result)
    )


@pytest.mark.parametrize("command", [["verify_audit"], ["purge_expired", "--dry-run"]])
def test_a_command_on_a_database_never_migrated_says_to_migrate(tmp_path, command):
    """The restore procedure runs verify_audit on the new database: pointed at an empty
    one (a failed restore, a mistyped name) it ended in "no such table" on SQLite (and
    "cursor ... does not exist" on PostgreSQL) after a traceback."""
    database = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = run_django(*command, DATABASE_URL=database, DJANGO_DEBUG="true")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, last_line(result)
    assert last_line(result) == (
        "CommandError: The database is not set up, or not up to date: run manage.py migrate."
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL, to make an empty database there",
)
def test_verify_audit_on_an_empty_postgresql_database_says_to_migrate():
    """On PostgreSQL the missing table surfaced as a misleading InvalidCursorName."""
    import psycopg2

    database = connection.settings_dict
    name = f"{database['NAME']}_never_migrated"
    server = {"host": database["HOST"], "port": database["PORT"], "user": database["USER"]}
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{name}"
    admin = psycopg2.connect(dbname="postgres", **server)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        result = run_django("verify_audit", DATABASE_URL=url, DJANGO_DEBUG="true")
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, last_line(result)
    assert "run manage.py migrate" in last_line(result), last_line(result)


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, app in get_commands().items()
        if app in {"boundaries", "incidents", "scripts_library"}
    ],
)
def test_every_command_of_the_project_says_what_is_wrong_with_the_database(name):
    command = load_command_class(get_commands()[name], name)
    assert isinstance(command, DatabaseCommand)


class Broken(DatabaseCommand):
    """A command whose query is wrong: a bug, on a database that is set up."""

    error: Exception

    def handle(self, *args, **options):
        from boundaries.models import Unit

        Unit.objects.count()  # the database answers
        raise self.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error", [ProgrammingError("syntax error at or near"), OperationalError("no such column")]
)
def test_a_database_error_on_a_migrated_database_is_left_as_the_bug_it_is(error):
    command = Broken()
    command.error = error
    with pytest.raises(type(error)):
        call_command(command)


@pytest.mark.django_db
def test_a_command_error_is_left_as_it_is():
    command = Broken()
    command.error = CommandError("There is no unit with the code 'X'.")
    with pytest.raises(CommandError, match="There is no unit"):
        call_command(command)


# Blank and malformed values of the settings read as text (found checking the README's
# settings table against settings.py).


def test_a_secret_key_of_spaces_is_no_secret_key():
    # A blank DJANGO_SECRET_KEY line in an environment file was taken as the key, and
    # production started signing sessions with a single space.
    result = run_django("check", **{**PROD, "DJANGO_SECRET_KEY": "   "})
    assert_refused_at_start(result, "DJANGO_SECRET_KEY is not set")


def test_a_blank_database_url_or_mail_host_is_the_variable_unset():
    # A blank DATABASE_URL stopped every command ("Scheme '://' is unknown"), and a blank
    # EMAIL_HOST was taken as a mail server called " ".
    show = (
        "from django.conf import settings as s; print(repr(["
        "s.DATABASES['default']['NAME'].endswith('db.sqlite3'), "
        "s.BOUNDARIES['EMAIL_RELAY_CONFIGURED'], s.MAILERS['default']['BACKEND']]))"
    )
    shown = run_django("shell", "-c", show, DJANGO_DEBUG="true", DATABASE_URL=" ", EMAIL_HOST=" ")
    assert shown.returncode == 0, shown.stderr[-400:]
    assert shown.stdout.strip().splitlines()[-1] == repr(
        [True, False, "django.core.mail.backends.console.EmailBackend"]
    )


def test_a_blank_mail_user_and_password_are_none():
    # Taken as a user called " ", so the app tried to sign in to a relay that needs none.
    show = (
        "from django.conf import settings as s; o = s.MAILERS['default']['OPTIONS']; "
        "print(repr([o['username'], o['password']]))"
    )
    shown = run_django("shell", "-c", show, **PROD, EMAIL_HOST_USER=" ", EMAIL_HOST_PASSWORD="  ")
    assert shown.returncode == 0, shown.stderr[-400:]
    assert shown.stdout.strip().splitlines()[-1] == repr(["", ""])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # Links in emails would have led nowhere.
        ("SITE_URL", "boundaries.example.org"),
        ("SITE_URL", "https://"),
        ("SITE_URL", "ftp://boundaries.example.org"),
        # Found reviewing the check: these raised ValueError, or were let through.
        ("SITE_URL", "https://[boundaries.example.org"),
        ("SITE_URL", "https://boundaries.example.org:99999"),
        ("SITE_URL", "https://boundaries example.org"),
        # Found by a review: under a path, links built in a request carried it twice.
        ("SITE_URL", "https://intranet.example.org/boundaries"),
        # Found by a review helper: each link is the address with a path after it.
        ("SITE_URL", "https://boundaries.example.org/?from=email"),
        ("SITE_URL", "https://boundaries.example.org#top"),
        ("SITE_URL", "https://it:s3cret@boundaries.example.org"),
        # Every email would have been refused by the relay, 48 times each.
        ("DEFAULT_FROM_EMAIL", "Boundaries"),
        ("DEFAULT_FROM_EMAIL", "boundaries.example.org"),
        # Found by a review helper: taken at start (parseaddr read the first address, or
        # past the mistake), then refused by Django's mail backend on every email.
        ("DEFAULT_FROM_EMAIL", "boundaries@example.org, it@example.org"),
        ("DEFAULT_FROM_EMAIL", "Boundaries <boundaries@example.org"),
        ("DEFAULT_FROM_EMAIL", "St. Elsewhere <boundaries@example.org>"),
        ("DEFAULT_FROM_EMAIL", "Boundaries <boundaries@example.org>\nBcc: x@example.org"),
        ("DEFAULT_FROM_EMAIL", "boundaries@"),
    ],
)
def test_a_malformed_address_is_refused_at_start(name, value):
    result = run_django("check", **{**PROD, name: value})
    assert_refused_at_start(result, f"{name} must be ")
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize(
    "sender",
    [
        '"Boundaries, St. Elsewhere" <boundaries@example.org>',
        '"The \\"Boundaries\\" app" <boundaries@example.org>',
        "Bücher Trust <boundaries@bücher.example>",
        "boundaries@example.org",
    ],
)
def test_a_sender_with_a_quoted_name_or_an_international_domain_is_accepted(sender):
    show = "from django.conf import settings; print(settings.DEFAULT_FROM_EMAIL)"
    shown = run_django("shell", "-c", show, **{**PROD, "DEFAULT_FROM_EMAIL": sender})
    assert shown.returncode == 0, shown.stderr[-400:]
    assert shown.stdout.strip().splitlines()[-1] == sender


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://boundaries.example.org/", "https://boundaries.example.org"),
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("https://[2001:db8::5]:8443", "https://[2001:db8::5]:8443"),
        ("https://bücher.example", "https://bücher.example"),
    ],
)
def test_a_site_address_with_a_port_or_a_final_slash_is_accepted(value, expected):
    show = "from django.conf import settings; print(settings.SITE_URL)"
    shown = run_django("shell", "-c", show, **{**PROD, "SITE_URL": value})
    assert shown.returncode == 0, shown.stderr[-400:]
    assert shown.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize(("name", "value"), [("EMAIL_PORT", "70000"), ("EMAIL_USE_TLS", "maybe")])
def test_mail_settings_are_checked_while_emails_go_to_the_console(name, value):
    # In development without EMAIL_HOST they were not read at all, so the mistake
    # showed only on the server that had a relay.
    result = run_django("check", DJANGO_DEBUG="true", **{name: value})
    assert_refused_at_start(result, f"{name} must be ")
