"""The pattern rules' one-statement read (``alerts._history``) against the reads it
replaced: the same matches whatever the process's hint of the window, across a clock
change, at the window's edges to the microsecond, with ties in time; and, on
PostgreSQL, the patient's unresolved alerts locked as they are read."""

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boundaries.models import Role
from incidents import alerts, services
from incidents.models import (
    Alert,
    AlertRule,
    AlertStatus,
    AlertThresholds,
    QueuedEmail,
    Severity,
)
from tests.factories import IncidentFactory, PatientFactory, UnitFactory, UserFactory
from tests.incidents.test_purge_races import started

LONDON = ZoneInfo("Europe/London")


def read_apart(incident) -> list[alerts.Match]:
    """The rules with the history read by the ORM, a statement for each part."""
    return alerts.matches_for(incident, AlertThresholds.current())


def read_together(incident) -> list[alerts.Match]:
    history = alerts._history(incident)
    return alerts.matches_for(incident, history.thresholds, history=history)


def happened(patient, reporter, offset: timedelta, severity: Severity):
    """An incident about ``patient``, ``offset`` from now, in the reporter's unit."""
    return IncidentFactory(
        patient=patient,
        reporter=reporter,
        unit=reporter.units.first(),
        occurred_at=timezone.now() + offset,
        severity=severity,
    )


def described(matches: list[alerts.Match]) -> list:
    return sorted((match.key, [row.id for row in match.rows]) for match in matches)


@pytest.fixture
def across_a_clock_change(nurse):
    """A filing as the form makes it (its time in London, summer time) and an earlier
    incident 89 days and 23.5 hours before it: inside 90 days of elapsed time, but
    before the same wall-clock time 90 days earlier (GMT then)."""
    AlertThresholds.current()
    patient, unit = PatientFactory(), nurse.units.first()
    target_at = datetime(2026, 5, 1, 12, 0, tzinfo=LONDON)  # 11:00 UTC
    earliest = datetime(2026, 1, 31, 11, 30, tzinfo=UTC)
    assert target_at - earliest < timedelta(days=90)
    for moment in (earliest, datetime(2026, 4, 20, 12, tzinfo=LONDON)):
        IncidentFactory(patient=patient, reporter=nurse, unit=unit, occurred_at=moment)
    return IncidentFactory(patient=patient, reporter=nurse, unit=unit, occurred_at=target_at)


@pytest.mark.parametrize("hint", [7, 90, 120])
def test_windows_are_elapsed_time_whatever_the_hint(across_a_clock_change, monkeypatch, hint):
    """Found by review: the window's bound was the wall clock's, and the incident just
    outside it (read now for the escalation rule) joined the repeat window when the
    process's hint was wide enough, so two app servers could decide differently."""
    monkeypatch.setattr(alerts._Reach, "days", hint)
    alerts.evaluate_incident(across_a_clock_change, notify=False)
    alert = Alert.objects.get(patient=across_a_clock_change.patient)
    assert (alert.rule, alert.incident_count) == (AlertRule.REPEAT_PATIENT, 3)
    monkeypatch.setattr(alerts._Reach, "days", hint)  # the read above set it
    assert described(read_together(across_a_clock_change)) == described(
        read_apart(across_a_clock_change)
    )


@pytest.mark.parametrize("seed", range(20))
def test_read_together_matches_read_apart(seed, unit, monkeypatch):
    """Random histories with incidents at the window's edges (to the microsecond), at
    the hint's edges and tied in time, hints narrower and wider than the thresholds,
    and an older incident evaluated again (a late report): the same matches."""
    rng = random.Random(seed)
    reporters = [UserFactory(units=[unit]) for _ in range(3)]
    repeat_days, staff_days = rng.randint(1, 6), rng.randint(1, 6)
    AlertThresholds.objects.update_or_create(
        pk=1,
        defaults={
            "repeat_count": rng.randint(2, 4),
            "repeat_days": repeat_days,
            "staff_count": rng.randint(2, 3),
            "staff_days": staff_days,
        },
    )
    widest = timedelta(days=max(repeat_days, staff_days))
    hint = max(1, widest.days + rng.choice([-1, 0, 0, 1, 3]))
    microsecond = timedelta(microseconds=1)
    edges = [widest, -widest, widest + microsecond, -widest - microsecond]
    edges += [timedelta(days=hint), -timedelta(days=hint), -timedelta(days=hint) - microsecond]
    offsets = [timedelta(0)] * 2 + [
        rng.choice([*edges, timedelta(days=rng.randint(-3 * hint, 3 * hint), seconds=77)])
        for _ in range(rng.randint(0, 8))
    ]
    patient = PatientFactory()
    base = datetime(2026, 3, 1, 9, 0, 0, rng.choice([0, 1, 999999]), tzinfo=UTC)
    made = [
        IncidentFactory(
            patient=patient,
            reporter=rng.choice(reporters),
            unit=unit,
            occurred_at=base + offset,
            severity=rng.choice(list(Severity)),
        )
        for offset in offsets
    ]
    for incident in (made[0], rng.choice(made)):
        monkeypatch.setattr(alerts._Reach, "days", hint)
        assert described(read_together(incident)) == described(read_apart(incident)), hint


def test_escalation_is_found_when_the_history_is_read_again(nurse, unit, monkeypatch):
    """A hint narrower than the thresholds: the history is read again, wider; the
    incident before the narrow history is still the one before (nothing lies between),
    so it is not looked for again."""
    AlertThresholds.current()
    patient = PatientFactory()
    happened(patient, nurse, timedelta(days=-200), Severity.LOW)
    incident = happened(patient, nurse, timedelta(0), Severity.MODERATE)
    monkeypatch.setattr(alerts._Reach, "days", 7)
    with CaptureQueriesContext(connection) as captured:
        assert {match.rule for match in read_together(incident)} == {AlertRule.ESCALATION}
    assert len(captured) == 2  # the narrow history, then the wider one


@pytest.mark.parametrize("hint", [90, 120])
def test_a_late_report_before_an_incident_timed_by_a_fast_clock(nurse, unit, monkeypatch, hint):
    """Found by review: an incident timed a few minutes ahead (a phone's fast clock,
    which the form allows) lay beyond a late report's history when the history reached
    exactly the thresholds' window, and the escalation to it was found only by a
    process whose hint reached further."""
    AlertThresholds.current()
    patient = PatientFactory()
    happened(patient, nurse, timedelta(minutes=4), Severity.MODERATE)
    late = happened(patient, nurse, -timedelta(days=90, minutes=-1), Severity.LOW)
    monkeypatch.setattr(alerts._Reach, "days", hint)
    assert {match.rule for match in read_together(late)} == {AlertRule.ESCALATION}


def test_the_incident_before_the_window_is_the_last_of_a_tie(nurse, unit):
    """Two incidents at the same moment long ago: the later filed (higher id) is the
    one just before, as when it was read on its own."""
    AlertThresholds.current()
    patient, long_ago = PatientFactory(), timezone.now() - timedelta(days=200)
    for severity in (Severity.HIGH, Severity.LOW):
        IncidentFactory(
            patient=patient, reporter=nurse, unit=unit, occurred_at=long_ago, severity=severity
        )
    incident = IncidentFactory(
        patient=patient, reporter=nurse, unit=unit, severity=Severity.MODERATE
    )
    assert {match.rule for match in read_together(incident)} == {AlertRule.ESCALATION}
    assert described(read_together(incident)) == described(read_apart(incident))


def test_thresholds_never_saved_are_stored_and_used(nurse):
    patient, unit = PatientFactory(), nurse.units.first()
    for days in (80, 40):
        IncidentFactory(
            patient=patient,
            reporter=nurse,
            unit=unit,
            occurred_at=timezone.now() - timedelta(days=days),
        )
    AlertThresholds.objects.all().delete()
    alerts.evaluate_incident(
        IncidentFactory(patient=patient, reporter=nurse, unit=unit), notify=False
    )
    assert AlertThresholds.objects.filter(pk=1).exists()
    assert Alert.objects.get(patient=patient, rule=AlertRule.REPEAT_PATIENT).incident_count == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks")
@pytest.mark.parametrize("act", ["resolve", "acknowledge"])
def test_a_supervisor_acting_on_the_alert_meanwhile(act):
    """The supervisor has the alert locked when the filing reads it: the filing waits,
    then sees what they did. A resolved alert is not joined (a new one is raised); an
    acknowledged one is joined and opens again."""
    unit = UnitFactory(code="WARD-E")
    nurse = UserFactory(units=[unit])
    supervisor = UserFactory(units=[unit], role=Role.SUPERVISOR)
    patient = PatientFactory()
    for days in (30, 20, 10):
        alerts.evaluate_incident(
            IncidentFactory(
                patient=patient,
                reporter=nurse,
                unit=unit,
                occurred_at=timezone.now() - timedelta(days=days),
            ),
            notify=False,
        )
    alert = Alert.objects.get(patient=patient, rule=AlertRule.REPEAT_PATIENT)
    links_before = set(alert.links.values_list("incident_id", flat=True))
    locked, release, errors = threading.Event(), threading.Event(), []

    def supervise():
        with transaction.atomic():
            if act == "resolve":
                services.resolve_alert(alert=alert, user=supervisor, note="Done.")
            else:
                services.acknowledge_alert(
                    alert=alert, user=supervisor, note="Watching.", action="Watching"
                )
            locked.set()
            release.wait(10)

    def file():
        alerts.evaluate_incident(IncidentFactory(patient=patient, reporter=nurse, unit=unit))

    supervising = started(supervise, errors)
    assert locked.wait(10)
    filing = started(file, errors)
    waiting = False
    for _ in range(100):  # until the filing waits for the alert's lock (10 s at most)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            waiting = cursor.fetchone()[0] > 0
        if waiting:
            break
        time.sleep(0.1)
    release.set()
    supervising.join(10)
    filing.join(10)
    assert errors == []
    assert waiting
    alert.refresh_from_db()
    if act == "resolve":
        assert alert.status == AlertStatus.RESOLVED
        assert set(alert.links.values_list("incident_id", flat=True)) == links_before
        new = Alert.objects.get(
            patient=patient, rule=AlertRule.REPEAT_PATIENT, status=AlertStatus.OPEN
        )
        assert new.incident_count == 4
    else:
        assert (alert.status, alert.incident_count) == (AlertStatus.OPEN, 4)
        # Read after the acknowledgement: its people hear it is open again.
        assert QueuedEmail.objects.filter(body__contains="is open again").exists()
