"""Two people saving the same record at the same moment, each from a page drawn before
the other's save: PostgreSQL's row locks serve them one after the other, and the second
is judged against the first's change (SQLite runs one writer at a time)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from incidents import alerts, services
from incidents.models import AlertThresholds
from tests.factories import UserFactory
from tests.incidents.test_purge_races import then_second

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one writer at a time; PostgreSQL's row locks are what this checks.",
    ),
]


def test_two_managers_saving_thresholds_at_once_from_the_same_page(monkeypatch):
    """Found by review: both read the thresholds before either had saved, both passed the
    page's check, and the second silently put back the first's numbers."""
    manager, colleague = UserFactory(role="manager"), UserFactory(role="manager")
    seen = AlertThresholds.current().updated_at.isoformat()
    saving, go_on = threading.Event(), threading.Event()
    reevaluate = alerts.reevaluate

    def reevaluate_then_wait(**kwargs):  # saved, not yet committed
        raised = reevaluate(**kwargs)
        saving.set()
        go_on.wait(10)
        return raised

    def change(user, **numbers):
        return lambda: services.change_thresholds(
            user=user, seen=seen, **{"repeat_days": 90, "staff_days": 30, **numbers}
        )

    monkeypatch.setattr(alerts, "reevaluate", reevaluate_then_wait)

    errors = then_second(
        change(manager, repeat_count=4, staff_count=2),
        change(colleague, repeat_count=3, staff_count=3),
        paused=saving,
        go_on=go_on,
    )

    assert [type(error) for error in errors] == [services.ThresholdsChanged]
    current = AlertThresholds.current()
    assert (current.repeat_count, current.staff_count, current.updated_by) == (4, 2, manager)
