"""Each list page runs the same queries for one row as for fifty: no query per row, so a
page costs the same on the first day as on the millionth incident."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Alert, AlertIncident, AlertRule, Severity
from tests.factories import IncidentFactory, PatientFactory, ScriptFactory, UserFactory

MANY = 50


def queries_for(client, path: str) -> int:
    """Queries for one request, after a first that does the session's one-off work."""
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def alert_about(incidents, *, number: int) -> Alert:
    """An alert of each rule in turn, so that a list of them goes through every rule's
    wording (found by a review helper: with one rule, a query per row in another rule's
    sentence went unnoticed)."""
    rules = list(AlertRule)
    rule = rules[number % len(rules)]
    alert = Alert.objects.create(
        rule=rule,
        patient=incidents[0].patient,
        pattern_key=f"{rule}:test:{number}",
        incident_count=len(incidents),
        staff_count=1,
        span_start=incidents[0].occurred_at,
        span_end=incidents[-1].occurred_at,
        severity=Severity.HIGH,
    )
    AlertIncident.objects.bulk_create(
        AlertIncident(alert=alert, incident=incident, unit=incident.unit) for incident in incidents
    )
    return alert


def colleagues(unit, count: int) -> list:
    return [UserFactory(units=[unit]) for _ in range(count)]


def test_my_incidents_runs_the_same_queries_for_1_or_50(nurse_client, nurse):
    IncidentFactory(reporter=nurse)
    one = queries_for(nurse_client, "/incidents/")
    IncidentFactory.create_batch(MANY - 1, reporter=nurse)
    assert queries_for(nurse_client, "/incidents/") == one


def test_the_review_queue_runs_the_same_queries_for_1_or_50(supervisor_client, unit):
    reporters = colleagues(unit, 5)
    IncidentFactory(reporter=reporters[0])
    one = queries_for(supervisor_client, "/review/")
    for number in range(MANY - 1):
        IncidentFactory(reporter=reporters[number % 5], patient=PatientFactory())
    assert queries_for(supervisor_client, "/review/") == one


def test_the_closed_tab_runs_the_same_queries_for_1_or_50(supervisor_client, unit):
    reporter = UserFactory(units=[unit])
    closed = {"status": "closed", "closed_at": timezone.now()}
    IncidentFactory(reporter=reporter, **closed)
    one = queries_for(supervisor_client, "/review/?status=closed")
    IncidentFactory.create_batch(MANY - 1, reporter=reporter, **closed)
    assert queries_for(supervisor_client, "/review/?status=closed") == one


def test_the_alert_list_runs_the_same_queries_for_1_or_50(supervisor_client, unit):
    reporter = UserFactory(units=[unit])
    alert_about([IncidentFactory(reporter=reporter)], number=0)
    one = queries_for(supervisor_client, "/alerts/")
    for number in range(1, MANY):
        alert_about([IncidentFactory(reporter=reporter)], number=number)
    assert Alert.objects.count() == MANY
    assert queries_for(supervisor_client, "/alerts/") == one


def test_an_alert_runs_the_same_queries_for_1_or_50_incidents(supervisor_client, unit):
    reporters = colleagues(unit, 5)
    patient = PatientFactory()
    first = IncidentFactory(reporter=reporters[0], patient=patient)
    alert = alert_about([first], number=0)
    path = alert.get_absolute_url()
    one = queries_for(supervisor_client, path)
    more = [
        IncidentFactory(
            reporter=reporters[number % 5],
            patient=patient,
            occurred_at=timezone.now() - timedelta(hours=number + 3),
        )
        for number in range(MANY - 1)
    ]
    AlertIncident.objects.bulk_create(
        AlertIncident(alert=alert, incident=incident, unit=incident.unit) for incident in more
    )
    assert queries_for(supervisor_client, path) == one


def test_a_patient_timeline_runs_the_same_queries_for_1_or_50_incidents(supervisor_client, unit):
    reporters = colleagues(unit, 5)
    patient = PatientFactory()
    first = IncidentFactory(reporter=reporters[0], patient=patient)
    alert_about([first], number=0)
    path = f"/alerts/patients/{patient.public_id}/"
    one = queries_for(supervisor_client, path)
    for number in range(MANY - 1):
        incident = IncidentFactory(
            reporter=reporters[number % 5],
            patient=patient,
            occurred_at=timezone.now() - timedelta(hours=number + 3),
        )
        alert_about([incident], number=number + 1)
    assert queries_for(supervisor_client, path) == one


@pytest.mark.parametrize("path", ["/scripts/", "/scripts/search/?q=number"])
def test_the_script_library_runs_the_same_queries_for_1_or_50_scripts(nurse_client, path):
    ScriptFactory(version__text="I can't give you my number.")
    one = queries_for(nurse_client, path)
    ScriptFactory.create_batch(MANY - 1, version__text="I can't give you my number.")
    assert queries_for(nurse_client, path) == one
