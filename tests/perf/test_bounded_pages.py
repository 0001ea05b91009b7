"""Pages whose work could grow with a patient's history show a bounded amount of it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.models import Alert, AlertIncident, AlertRule, AlertStatus
from tests.factories import IncidentFactory, PatientFactory, UserFactory


def test_a_long_timeline_comes_in_pages_of_fifty_oldest_first(supervisor_client, unit):
    reporter = UserFactory(units=[unit])
    patient = PatientFactory()
    start = timezone.now() - timedelta(days=200)
    incidents = [
        IncidentFactory(reporter=reporter, patient=patient, occurred_at=start + timedelta(days=n))
        for n in range(60)
    ]
    path = f"/alerts/patients/{patient.public_id}/"

    first = supervisor_client.get(path)
    shown = list(first.context["incidents"])
    assert shown == incidents[:50]
    cursor = first.context["page"].next_cursor
    assert f"?after={cursor}" in first.content.decode()

    second = supervisor_client.get(f"{path}?after={cursor}")
    assert list(second.context["incidents"]) == incidents[50:]
    assert second.context["page"].next_cursor is None


def test_the_timeline_shows_unresolved_alerts_first_and_ten_at_most(
    supervisor_client, supervisor, unit
):
    reporter = UserFactory(units=[unit])
    patient = PatientFactory()
    incident = IncidentFactory(reporter=reporter, patient=patient)
    resolved = []
    for number in range(12):
        alert = Alert.objects.create(
            rule=AlertRule.HIGH_SEVERITY,
            patient=patient,
            pattern_key=f"{AlertRule.HIGH_SEVERITY}:patient:{patient.pk}",
            status=AlertStatus.RESOLVED,
            resolved_at=timezone.now() - timedelta(days=number),
            resolved_by=supervisor,
            last_matched_at=timezone.now() - timedelta(days=number + 1),
        )
        AlertIncident.objects.create(alert=alert, incident=incident, unit=unit)
        resolved.append(alert)
    open_alert = Alert.objects.create(
        rule=AlertRule.REPEAT_PATIENT,
        patient=patient,
        pattern_key=f"{AlertRule.REPEAT_PATIENT}:patient:{patient.pk}",
        last_matched_at=timezone.now() - timedelta(days=30),
    )
    AlertIncident.objects.create(alert=open_alert, incident=incident, unit=unit)

    alerts = list(
        supervisor_client.get(f"/alerts/patients/{patient.public_id}/").context["alerts"]
    )
    assert len(alerts) == 10
    assert alerts[0] == open_alert
    assert alerts[1:] == resolved[:9]
