"""Personas and speed-ups shared by the whole suite.

The personas tell the permission stories: a nurse and a supervisor on ward A, their
counterparts on ward B, a manager who sees every unit, an administrator, and a
deactivated member of staff.
"""

from __future__ import annotations

import importlib
import re

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from boundaries.access import second_factor_required
from boundaries.models import Role
from tests.factories import UnitFactory, UserFactory


@pytest.fixture(autouse=True, scope="session")
def _audit_trail_can_be_emptied_between_transactional_tests():
    """Transactional (browser) tests empty every table with TRUNCATE afterwards, which
    the audit trail's trigger refuses on PostgreSQL. Only the test run's flush is let
    through; tests/boundaries/test_audit.py proves that anything else is refused."""
    import pgtrigger
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, *args, **options):
        with pgtrigger.ignore("boundaries.AuditEvent:audit_no_truncate"):
            return original(self, *args, **options)

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(autouse=True, scope="session")
def _no_connection_left_open_at_teardown(django_db_setup, django_db_blocker):
    """Ends, once every test has run, any connection to the test database that a
    test's thread (the live server's, a race test's) left open: PostgreSQL refuses to
    drop a database in use, and pytest-django would only warn that it could not."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    # Only the run's own sessions: another role's (autovacuum, a superuser's) may not be
    # ended by this one, and is not the tests' to end.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND usename = current_user AND backend_type = 'client backend'"
        )


@pytest.fixture(autouse=True)
def _reference_data_after_flush(request):
    """Transactional tests empty every table afterwards, including the rows that data
    migrations load (request types, channels, script categories). Load them again, as
    the migrations do, so that every test starts from the same database."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    for module in (
        "incidents.migrations.0003_taxonomy",
        "scripts_library.migrations.0002_categories",
    ):
        migration = importlib.import_module(module)
        for operation in migration.Migration.operations:
            operation.code(apps, None)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached page fragments (the review queue's filter form) never outlive a test: ids
    are reused from one test's database to the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _rules_window_as_a_new_process(monkeypatch):
    """The pattern rules remember, per process, how far their last read had to reach
    (``alerts._Reach``): every test starts where a new process does, so that a test's
    queries do not depend on the thresholds of the one before it."""
    from incidents import alerts

    monkeypatch.setattr(alerts._Reach, "days", alerts._Reach.days)
    alerts._Reach.days = 90


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is deliberately slow; tests only need a working one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def unit(db):
    return UnitFactory(code="WARD-A", name="Ward A")


@pytest.fixture
def other_unit(db):
    return UnitFactory(code="WARD-B", name="Ward B")


@pytest.fixture
def nurse(unit):
    return UserFactory(username="nurse", role=Role.REPORTER, units=[unit])


@pytest.fixture
def other_unit_nurse(other_unit):
    return UserFactory(username="nurse2", role=Role.REPORTER, units=[other_unit])


@pytest.fixture
def supervisor(unit):
    return UserFactory(username="supervisor", role=Role.SUPERVISOR, units=[unit])


@pytest.fixture
def other_unit_supervisor(other_unit):
    return UserFactory(username="supervisor2", role=Role.SUPERVISOR, units=[other_unit])


@pytest.fixture
def manager(unit):
    return UserFactory(username="manager", role=Role.MANAGER, units=[unit])


@pytest.fixture
def administrator(db):
    return UserFactory(username="admin", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)


@pytest.fixture
def deactivated(unit):
    return UserFactory(username="gone", role=Role.REPORTER, units=[unit], is_active=False)


def client_for(user) -> Client:
    """A signed-in client. For a role that signs in with a second factor, the person
    gets a confirmed authenticator and the session has passed that step too."""
    client = Client()
    client.force_login(user)
    if second_factor_required(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def page_title(response) -> str:
    """The text of a page's <title>, which a screen reader reads first."""
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1).strip()


@pytest.fixture
def nurse_client(nurse):
    return client_for(nurse)


@pytest.fixture
def other_unit_nurse_client(other_unit_nurse):
    return client_for(other_unit_nurse)


@pytest.fixture
def supervisor_client(supervisor):
    return client_for(supervisor)


@pytest.fixture
def other_unit_supervisor_client(other_unit_supervisor):
    return client_for(other_unit_supervisor)


@pytest.fixture
def manager_client(manager):
    return client_for(manager)


@pytest.fixture
def administrator_client(administrator):
    return client_for(administrator)
