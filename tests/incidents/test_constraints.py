"""The review and alert lifecycles, held by the database as well as by the services: a
write that skips the service and breaks a rule is refused, and every step the services
take is still allowed (migration 0015)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import alerts, services
from incidents.models import Alert, AlertRule, AlertStatus, Incident, Status
from tests.factories import IncidentFactory, PatientFactory


def refused(queryset, **changes) -> None:
    """The UPDATE fails, and leaves the test's transaction usable."""
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**changes)


def review(incident: Incident, reviewer, **fields) -> Incident:
    incident.refresh_from_db()
    values = {
        "status": incident.status,
        "feedback": incident.feedback,
        "internal_note": "",
        "actions": {},
        **fields,
    }
    return services.review_incident(
        incident=incident, reviewer=reviewer, expected_version=incident.version, **values
    )


# --- Incidents: closing --------------------------------------------------------------------


def test_the_database_refuses_a_closed_incident_without_a_closing_time(nurse):
    incident = IncidentFactory(reporter=nurse, status=Status.UNDER_REVIEW)
    refused(Incident.objects.filter(pk=incident.pk), status=Status.CLOSED)
    closed = IncidentFactory(reporter=nurse, status=Status.CLOSED)
    refused(Incident.objects.filter(pk=closed.pk), closed_at=None)


def test_the_database_refuses_a_closing_time_on_an_open_incident(nurse):
    incident = IncidentFactory(reporter=nurse, status=Status.UNDER_REVIEW)
    refused(Incident.objects.filter(pk=incident.pk), closed_at=timezone.now())
    closed = IncidentFactory(reporter=nurse, status=Status.CLOSED)
    refused(Incident.objects.filter(pk=closed.pk), status=Status.UNDER_REVIEW)


def test_closing_and_reopening_keep_the_closing_time_with_the_status(nurse, supervisor):
    incident = IncidentFactory(reporter=nurse)
    review(incident, supervisor, status=Status.UNDER_REVIEW)
    closed = review(incident, supervisor, status=Status.CLOSED)
    assert (closed.status, bool(closed.closed_at)) == (Status.CLOSED, True)

    reopened = review(incident, supervisor, status=Status.UNDER_REVIEW, reopen_reason="Again.")
    assert (reopened.status, reopened.closed_at) == (Status.UNDER_REVIEW, None)
    closed_again = review(incident, supervisor, status=Status.CLOSED)
    assert closed_again.closed_at is not None


# --- Incidents: taken up -------------------------------------------------------------------


def test_the_database_refuses_an_incident_taken_up_without_who_and_when(nurse, supervisor):
    incident = IncidentFactory(reporter=nurse)
    rows = Incident.objects.filter(pk=incident.pk)
    refused(rows, status=Status.UNDER_REVIEW)
    refused(rows, status=Status.UNDER_REVIEW, reviewed_by=supervisor)
    refused(rows, status=Status.UNDER_REVIEW, reviewed_at=timezone.now())
    reviewing = IncidentFactory(reporter=nurse, status=Status.UNDER_REVIEW)
    refused(Incident.objects.filter(pk=reviewing.pk), reviewed_by=None)
    refused(Incident.objects.filter(pk=reviewing.pk), reviewed_at=None)


def test_a_submitted_incident_may_be_given_feedback_before_it_is_taken_up(nurse, supervisor):
    """A review saved at "submitted" names its reviewer and no time taken up: the rule
    reads one way only."""
    incident = IncidentFactory(reporter=nurse)
    saved = review(incident, supervisor, feedback="Thank you; I will come and see you.")
    assert (saved.status, saved.reviewed_by, saved.reviewed_at) == (
        Status.SUBMITTED,
        supervisor,
        None,
    )
    taken_up = review(incident, supervisor, status=Status.UNDER_REVIEW)
    assert taken_up.reviewed_at is not None


# --- Incidents: feedback ------------------------------------------------------------------


def test_the_database_refuses_feedback_without_its_author_and_time(nurse, supervisor):
    incident = IncidentFactory(reporter=nurse, status=Status.UNDER_REVIEW)
    rows = Incident.objects.filter(pk=incident.pk)
    refused(rows, feedback="Well handled.")
    refused(rows, feedback="Well handled.", feedback_by=supervisor)
    refused(rows, feedback="Well handled.", feedback_at=timezone.now())


def test_the_database_refuses_an_author_for_feedback_that_was_cleared(nurse, supervisor):
    incident = IncidentFactory(reporter=nurse, status=Status.UNDER_REVIEW)
    refused(
        Incident.objects.filter(pk=incident.pk),
        feedback_by=supervisor,
        feedback_at=timezone.now(),
    )


def test_feedback_given_changed_and_cleared_keeps_its_author_with_it(
    nurse, supervisor, other_unit_supervisor
):
    incident = IncidentFactory(reporter=nurse)
    given = review(incident, supervisor, status=Status.UNDER_REVIEW, feedback="Well handled.")
    assert (given.feedback_by, bool(given.feedback_at)) == (supervisor, True)
    changed = review(incident, other_unit_supervisor, feedback="Well handled; thank you.")
    assert changed.feedback_by == other_unit_supervisor

    cleared = review(incident, supervisor, feedback="")
    assert (cleared.feedback, cleared.feedback_by) == ("", None)
    # When it was cleared: the retention clock counts it as activity.
    assert cleared.feedback_at is not None


# --- Alerts ---------------------------------------------------------------------------------


def alert(**fields) -> Alert:
    return Alert.objects.create(
        rule=AlertRule.HIGH_SEVERITY, pattern_key=f"test:{Alert.objects.count()}", **fields
    )


def test_the_database_refuses_a_resolved_alert_without_who_and_when(supervisor):
    rows = Alert.objects.filter(pk=alert().pk)
    refused(rows, status=AlertStatus.RESOLVED)
    refused(rows, status=AlertStatus.RESOLVED, resolved_by=supervisor)
    refused(rows, status=AlertStatus.RESOLVED, resolved_at=timezone.now())


def test_the_database_refuses_a_resolution_on_an_unresolved_alert(supervisor):
    rows = Alert.objects.filter(pk=alert().pk)
    refused(rows, resolved_at=timezone.now(), resolved_by=supervisor)
    resolved = alert(
        status=AlertStatus.RESOLVED, resolved_at=timezone.now(), resolved_by=supervisor
    )
    refused(Alert.objects.filter(pk=resolved.pk), status=AlertStatus.OPEN)


def test_the_database_refuses_an_acknowledgement_without_who_and_when(supervisor):
    rows = Alert.objects.filter(pk=alert().pk)
    refused(rows, status=AlertStatus.ACKNOWLEDGED)
    refused(rows, status=AlertStatus.ACKNOWLEDGED, acknowledged_by=supervisor)
    refused(rows, status=AlertStatus.ACKNOWLEDGED, acknowledged_at=timezone.now())
    # Half an acknowledgement, whatever the status.
    refused(rows, acknowledged_by=supervisor)
    refused(rows, acknowledged_at=timezone.now())


def test_the_database_refuses_a_span_that_ends_before_it_starts_or_has_one_end(db):
    now = timezone.now()
    rows = Alert.objects.filter(pk=alert().pk)
    refused(rows, span_start=now, span_end=now - timedelta(seconds=1))
    refused(rows, span_start=now)
    refused(rows, span_end=now)
    rows.update(span_start=now, span_end=now)


def test_the_database_refuses_more_staff_than_incidents(db):
    rows = Alert.objects.filter(pk=alert().pk)
    refused(rows, incident_count=1, staff_count=2)
    rows.update(incident_count=2, staff_count=2)


def test_an_alert_acknowledged_reopened_by_a_filing_and_resolved_keeps_every_rule(
    nurse, supervisor, other_unit_supervisor
):
    patient = PatientFactory()

    def filed(days_ago: int) -> None:
        incident = IncidentFactory(
            reporter=nurse, patient=patient, occurred_at=timezone.now() - timedelta(days=days_ago)
        )
        alerts.evaluate_incident(incident)

    for days_ago in (30, 20, 10):
        filed(days_ago)
    raised = Alert.objects.get(rule=AlertRule.REPEAT_PATIENT)
    assert (raised.incident_count, raised.staff_count) == (3, 1)
    assert raised.span_start < raised.span_end

    services.acknowledge_alert(alert=raised, user=supervisor, note="Watching.", action="Watch")
    filed(0)
    raised.refresh_from_db()
    # Open again, and still saying who acknowledged it and when.
    assert (raised.status, raised.acknowledged_by) == (AlertStatus.OPEN, supervisor)
    assert raised.acknowledged_at is not None and raised.resolved_at is None

    services.acknowledge_alert(
        alert=raised, user=other_unit_supervisor, note="Letter sent.", action="Letter"
    )
    resolved = services.resolve_alert(alert=raised, user=supervisor, note="No more visits.")
    resolved.refresh_from_db()
    assert (resolved.status, resolved.resolved_by) == (AlertStatus.RESOLVED, supervisor)
    assert resolved.acknowledged_by == other_unit_supervisor
