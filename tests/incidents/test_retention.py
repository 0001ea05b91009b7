"""Retention: incidents are deleted eight years (a setting) after their last activity,
with everything recorded about them; drafts never filed after thirty days; each deletion
leaves an audit event with an id only; a dry run changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from boundaries import audit
from boundaries.models import AuditEvent, Role
from incidents import retention
from incidents.models import (
    Addendum,
    Alert,
    AlertIncident,
    AlertRule,
    Draft,
    Incident,
    IncidentEvent,
    Patient,
    QueuedEmail,
    Status,
    Witness,
)
from incidents.retention import purge_expired
from tests.boundaries.test_settings import run_django
from tests.factories import (
    IncidentFactory,
    PatientFactory,
    UserFactory,
    WitnessFactory,
    log_incident,
)

# Today, so that rows the factories stamp with the real time are recent ones.
NOW = datetime.now(UTC)
EXPIRED = NOW - timedelta(days=8 * 366)
KEPT = NOW - timedelta(days=7 * 365)
RECENT = NOW - timedelta(days=30)

# Every table a purge may touch, and the audit trail, which it only ever adds to.
TABLES = (Incident, Witness, Addendum, IncidentEvent, AlertIncident, Alert, Patient, Draft)


def snapshot() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (*TABLES, AuditEvent)}


def old_incident(*, reporter, when=EXPIRED, patient=None, **fields) -> Incident:
    """An incident filed (and last touched) at ``when``."""
    return IncidentFactory(
        reporter=reporter,
        patient=patient or PatientFactory(),
        occurred_at=when - timedelta(hours=1),
        submitted_at=when,
        **fields,
    )


def alert_for(patient: Patient, *incidents: Incident, when=EXPIRED) -> Alert:
    alert = Alert.objects.create(
        rule=AlertRule.REPEAT_PATIENT,
        patient=patient,
        pattern_key=f"repeat_patient:patient:{patient.pk}",
        status="resolved",
        resolved_at=when,
        resolved_by=UserFactory(role=Role.SUPERVISOR),
        opened_at=when,
        last_matched_at=when,
        incident_count=len(incidents),
    )
    for incident in incidents:
        AlertIncident.objects.create(alert=alert, incident=incident, unit=incident.unit)
    return alert


def with_history(incident: Incident, *, when, author) -> Incident:
    """A witness, an addendum and a review entry, all dated ``when``."""
    WitnessFactory(incident=incident)
    addendum = Addendum.objects.create(incident=incident, author=author, text="One more thing.")
    Addendum.objects.filter(pk=addendum.pk).update(created_at=when)
    IncidentEvent.objects.create(
        incident=incident, actor=author, kind=IncidentEvent.Kind.FILED, created_at=when
    )
    return incident


def draft(owner, *, changed_at, data=None) -> Draft:
    made = Draft.objects.create(owner=owner, data=data or {"location": ["Bay 3"]})
    Draft.objects.filter(pk=made.pk).update(updated_at=changed_at)
    return made


@pytest.fixture
def expired_case(nurse, supervisor):
    """An incident past the retention period, with everything that hangs off it: a
    witness, an addendum, a review entry, an alert of its own and a patient."""
    incident = with_history(old_incident(reporter=nurse), when=EXPIRED, author=nurse)
    alert = alert_for(incident.patient, incident)
    return incident, alert, incident.patient


def test_an_expired_incident_goes_with_everything_recorded_about_it(expired_case, nurse):
    incident, alert, patient = expired_case
    recent = IncidentFactory(reporter=nurse, occurred_at=RECENT, submitted_at=RECENT)

    result = purge_expired(now=NOW)

    assert not Incident.objects.filter(pk=incident.pk).exists()
    assert not Witness.objects.filter(incident_id=incident.pk).exists()
    assert not Addendum.objects.filter(incident_id=incident.pk).exists()
    assert not IncidentEvent.objects.filter(incident_id=incident.pk).exists()
    assert not AlertIncident.objects.filter(incident_id=incident.pk).exists()
    assert not Alert.objects.filter(pk=alert.pk).exists()
    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert Incident.objects.filter(pk=recent.pk).exists()
    assert Patient.objects.filter(pk=recent.patient_id).exists()
    assert result.counts() == {
        "incidents": 1,
        "witnesses": 1,
        "addenda": 1,
        "incident_events": 1,
        "alert_links": 1,
        "alerts": 1,
        "patients": 1,
        "drafts": 0,
        "abandoned_drafts": 0,
        "emails": 0,
    }


def test_an_incident_inside_the_retention_period_is_kept(nurse):
    kept = with_history(old_incident(reporter=nurse, when=KEPT), when=KEPT, author=nurse)
    before = snapshot()
    assert purge_expired(now=NOW).incidents == 0
    assert Incident.objects.filter(pk=kept.pk).exists()
    assert snapshot() == before


def test_the_retention_period_is_a_setting(nurse, settings):
    incident = old_incident(reporter=nurse, when=KEPT)
    settings.BOUNDARIES = {**settings.BOUNDARIES, "RETENTION_YEARS": 6}
    assert purge_expired(now=NOW).incidents == 1
    assert not Incident.objects.filter(pk=incident.pk).exists()


@pytest.mark.parametrize(
    "activity",
    ["addendum", "review", "closed", "feedback"],
)
def test_recent_activity_restarts_the_clock(nurse, supervisor, activity):
    incident = old_incident(reporter=nurse)
    if activity == "addendum":
        added = Addendum.objects.create(incident=incident, author=nurse, text="Seen again.")
        Addendum.objects.filter(pk=added.pk).update(created_at=RECENT)
    elif activity == "review":
        IncidentEvent.objects.create(
            incident=incident,
            actor=supervisor,
            kind=IncidentEvent.Kind.STATUS_CHANGED,
            from_status=Status.CLOSED,
            to_status=Status.UNDER_REVIEW,
            created_at=RECENT,
        )
    elif activity == "closed":
        Incident.objects.filter(pk=incident.pk).update(
            status=Status.CLOSED, closed_at=RECENT, reviewed_at=RECENT, reviewed_by=supervisor
        )
    else:
        Incident.objects.filter(pk=incident.pk).update(
            feedback="Thanks.", feedback_at=RECENT, feedback_by=supervisor
        )

    assert purge_expired(now=NOW).incidents == 0
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_a_patient_with_a_recent_incident_keeps_their_reference_and_their_alert(nurse):
    patient = PatientFactory()
    old = old_incident(reporter=nurse, patient=patient)
    recent = IncidentFactory(
        reporter=nurse, patient=patient, occurred_at=RECENT, submitted_at=RECENT
    )
    alert = alert_for(patient, old, recent)

    result = purge_expired(now=NOW)

    assert (result.incidents, result.alert_links, result.alerts, result.patients) == (1, 1, 0, 0)
    assert Patient.objects.filter(pk=patient.pk).exists()
    assert list(Alert.objects.get(pk=alert.pk).incidents.all()) == [recent]


def test_an_alert_that_keeps_incidents_describes_only_those(nurse, other_unit_nurse):
    """Its figures and span are recounted from what is left; when it last matched, and
    its status, stay (found by a review helper)."""
    patient = PatientFactory()
    old = old_incident(reporter=other_unit_nurse, patient=patient)
    recent = IncidentFactory(
        reporter=nurse, patient=patient, occurred_at=RECENT, submitted_at=RECENT
    )
    alert = alert_for(patient, old, recent)
    Alert.objects.filter(pk=alert.pk).update(
        staff_count=2, span_start=old.occurred_at, span_end=recent.occurred_at
    )

    purge_expired(now=NOW)

    alert.refresh_from_db()
    assert (alert.incident_count, alert.staff_count) == (1, 1)
    assert alert.span_start == alert.span_end == recent.occurred_at
    assert (alert.status, alert.last_matched_at) == ("resolved", EXPIRED)


def test_an_alert_of_expired_incidents_only_goes_even_across_batches(nurse):
    patient = PatientFactory()
    incidents = [old_incident(reporter=nurse, patient=patient) for _ in range(5)]
    alert = alert_for(patient, *incidents)

    result = purge_expired(now=NOW, batch_size=2)

    assert (result.incidents, result.alert_links, result.alerts, result.patients) == (5, 5, 1, 1)
    assert not Alert.objects.filter(pk=alert.pk).exists()
    assert not Patient.objects.filter(pk=patient.pk).exists()


def test_an_incident_without_a_patient_is_purged_too(nurse):
    incident = IncidentFactory(
        reporter=nurse, patient=None, occurred_at=EXPIRED, submitted_at=EXPIRED
    )
    assert purge_expired(now=NOW).counts()["incidents"] == 1
    assert not Incident.objects.filter(pk=incident.pk).exists()


def test_drafts_never_filed_go_after_thirty_days(nurse):
    abandoned = draft(nurse, changed_at=NOW - timedelta(days=31))
    in_progress = draft(nurse, changed_at=NOW - timedelta(days=29))

    result = purge_expired(now=NOW)

    assert result.abandoned_drafts == 1
    assert not Draft.objects.filter(pk=abandoned.pk).exists()
    assert Draft.objects.filter(pk=in_progress.pk).exists()


def test_emails_go_thirty_days_after_they_were_sent_or_given_up_on(db):
    def email(**fields) -> QueuedEmail:
        return QueuedEmail.objects.create(
            recipients=["someone@example.invalid"], subject="Boundaries", body="A link.", **fields
        )

    long_ago, lately = NOW - timedelta(days=31), NOW - timedelta(days=29)
    sent_long_ago = email(created_at=long_ago, sent_at=long_ago)
    given_up = email(created_at=long_ago, attempts=QueuedEmail.MAX_ATTEMPTS)
    kept = [
        email(created_at=long_ago, sent_at=lately),
        email(created_at=long_ago, attempts=3),  # still being tried
        email(created_at=lately, attempts=QueuedEmail.MAX_ATTEMPTS),
    ]

    assert purge_expired(now=NOW, dry_run=True).emails == 2
    assert purge_expired(now=NOW).emails == 2

    assert not QueuedEmail.objects.filter(pk__in=[sent_long_ago.pk, given_up.pk]).exists()
    assert QueuedEmail.objects.count() == len(kept)


def test_a_draft_carrying_an_expired_incidents_token_goes_with_it(nurse):
    token = uuid.uuid4()
    incident = old_incident(reporter=nurse, submission_token=token)
    # Touched recently, so it is not one of the abandoned drafts.
    Draft.objects.create(pk=token, owner=nurse, data={})
    result = purge_expired(now=NOW)
    assert (result.incidents, result.drafts, result.abandoned_drafts) == (1, 1, 0)
    assert not Incident.objects.filter(pk=incident.pk).exists()
    assert not Draft.objects.filter(pk=token).exists()


def test_a_dry_run_changes_nothing_and_counts_what_a_real_run_deletes(expired_case, nurse):
    patient = PatientFactory()
    old = old_incident(reporter=nurse, patient=patient)
    recent = IncidentFactory(
        reporter=nurse, patient=patient, occurred_at=RECENT, submitted_at=RECENT
    )
    alert_for(patient, old, recent)
    draft(nurse, changed_at=NOW - timedelta(days=40))
    before = snapshot()

    counted = purge_expired(now=NOW, dry_run=True)

    assert counted.dry_run
    assert snapshot() == before, "a dry run deletes nothing and records nothing"
    deleted = purge_expired(now=NOW)
    assert counted.counts() == deleted.counts()
    assert deleted.counts()["incidents"] == 2
    assert deleted.counts()["patients"] == 1


def test_every_deleted_record_leaves_an_audit_event_with_its_id_only(expired_case, nurse):
    incident, alert, patient = expired_case
    abandoned = draft(
        nurse, changed_at=NOW - timedelta(days=60), data={"patient_reference": [patient.reference]}
    )
    first_new_event = AuditEvent.objects.count()

    purge_expired(now=NOW)

    events = AuditEvent.objects.filter(action=audit.Action.RECORDS_PURGED)
    assert {(e.object_type, e.object_id) for e in events} == {
        ("incidents.incident", str(incident.pk)),
        ("incidents.alert", str(alert.pk)),
        ("incidents.patient", str(patient.pk)),
        ("incidents.draft", str(abandoned.pk)),
    }
    assert events.get(object_type="incidents.incident").unit_id == incident.unit_id
    assert AuditEvent.objects.count() == first_new_event + 4
    for event in events:
        assert patient.reference not in audit.canonical_form(event).decode()
    assert audit.verify_chain().ok


def test_the_audit_trail_is_never_purged(expired_case, supervisor):
    incident, _, _ = expired_case
    viewed = audit.record(
        action=audit.Action.INCIDENT_VIEWED, actor=supervisor, target=incident, unit=incident.unit
    )
    purge_expired(now=NOW + timedelta(days=365 * 50))
    assert AuditEvent.objects.filter(pk=viewed.pk).exists()
    assert audit.verify_chain().ok


def test_a_failing_batch_leaves_that_batch_untouched(nurse, monkeypatch):
    incidents = [old_incident(reporter=nurse) for _ in range(3)]

    def refuse(*args, **kwargs):
        raise RuntimeError("the audit trail could not be written")

    monkeypatch.setattr(retention, "_record_purged", refuse)
    with pytest.raises(RuntimeError):
        purge_expired(now=NOW, batch_size=2)
    assert Incident.objects.filter(pk__in=[i.pk for i in incidents]).count() == 3
    assert not AuditEvent.objects.filter(action=audit.Action.RECORDS_PURGED).exists()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 6, 15, tzinfo=UTC), datetime(2018, 6, 15, tzinfo=UTC)),
        (datetime(2028, 2, 29, tzinfo=UTC), datetime(2020, 2, 29, tzinfo=UTC)),
        (datetime(2029, 2, 28, tzinfo=UTC), datetime(2021, 2, 28, tzinfo=UTC)),
    ],
)
def test_years_are_calendar_years(moment, expected):
    assert retention.years_before(moment, 8) == expected


def test_a_leap_day_counts_back_to_the_28th_in_a_year_without_one():
    assert retention.years_before(datetime(2028, 2, 29, tzinfo=UTC), 1) == datetime(
        2027, 2, 28, tzinfo=UTC
    )


def test_the_command_prints_the_counts_and_a_dry_run_says_so(expired_case, capsys):
    call_command("purge_expired", "--dry-run")
    out = capsys.readouterr().out
    assert "would be deleted" in out
    assert "  incidents: 1" in out
    assert "  patients left with no incident or alert: 1" in out
    assert "Dry run: nothing was changed." in out
    assert Incident.objects.count() == 1

    call_command("purge_expired")
    out = capsys.readouterr().out
    assert "deleted:" in out
    assert "  incidents: 1" in out
    assert "in the audit trail" in out
    assert Incident.objects.count() == 0


def test_the_command_gives_the_cutoffs_as_local_dates(db, monkeypatch, capsys):
    """Run by hand at 00:30 BST on 2 July (23:30 UTC on 1 July): the cutoffs are that
    time 8 years and 30 days before, on 2 July 2018 and 2 June 2026 by the local clock
    (UTC's dates, a day earlier, were printed)."""
    monkeypatch.setattr(
        retention.timezone, "now", lambda: datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    )
    call_command("purge_expired", "--dry-run")
    out = capsys.readouterr().out
    assert "Incidents with no activity since 2018-07-02 " in out
    assert "Drafts not changed since 2026-06-02 " in out


def test_the_command_help_says_the_audit_trail_is_never_purged(capsys):
    with pytest.raises(SystemExit):
        call_command("purge_expired", "--help")
    out = " ".join(capsys.readouterr().out.split())
    assert "The audit trail itself is never purged" in out
    assert "--dry-run" in out


@pytest.mark.parametrize("name", ["RETENTION_YEARS", "DRAFT_RETENTION_DAYS"])
def test_a_retention_period_of_zero_is_refused(name):
    result = run_django("check", DJANGO_DEBUG="true", **{name: "0"})
    assert result.returncode != 0
    assert f"{name} must be at least 1" in result.stderr


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the triggers that refuse to delete audit events exist only on PostgreSQL",
)
def test_on_postgresql_the_purge_runs_with_the_audit_triggers_enabled(expired_case):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'boundaries_auditevent'::regclass "
            "AND tgenabled = 'O' AND NOT tgisinternal"
        )
        (enabled,) = cursor.fetchone()
    assert enabled >= 2, "the append-only and no-truncate triggers are in place"
    # Any attempt to delete or rewrite an audit event would raise here.
    result = purge_expired(now=NOW)
    assert result.incidents == 1
    assert audit.verify_chain().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writer at a time, so a filing and the purge cannot interleave "
    "there; PostgreSQL's row locks are what this checks.",
)
def test_filing_about_a_patient_whose_old_incident_is_being_purged_does_not_deadlock(
    settings, monkeypatch
):
    """The filing holds its patient's lock while its rules link the patient's previous
    incident, an expired one; the purge once locked that incident first and the patient
    after it. Both now take the patient first."""
    import threading

    from incidents import alerts
    from incidents.models import Severity, Status
    from tests.factories import UnitFactory, UserFactory

    unit = UnitFactory(code="WARD-D")
    nurse = UserFactory(units=[unit])
    patient = PatientFactory()
    long_ago = EXPIRED
    IncidentFactory(
        reporter=nurse,
        unit=unit,
        patient=patient,
        severity=Severity.LOW,
        occurred_at=long_ago,
        submitted_at=long_ago,
        status=Status.CLOSED,
        closed_at=long_ago,
    )
    filing_read, purge_started = threading.Event(), threading.Event()
    errors = []
    matches_for, tally_uses = alerts.matches_for, retention.library.tally_uses

    def matches_then_wait(incident, thresholds, **history):
        # The patient locked, the old row read.
        found = matches_for(incident, thresholds, **history)
        filing_read.set()
        purge_started.wait(2)
        return found

    def tally_then_signal(incidents):
        purge_started.set()  # the batch's locks are taken by now
        return tally_uses(incidents)

    monkeypatch.setattr(alerts, "matches_for", matches_then_wait)
    monkeypatch.setattr(retention.library, "tally_uses", tally_then_signal)

    def file():
        try:
            log_incident(
                nurse,
                unit=unit,
                occurred_at=NOW - timedelta(hours=1),
                patient_reference=patient.reference,
                description="He asked again.",
                person_response="escalated",
            )
        except Exception as error:  # the test reports what went wrong
            errors.append(error)
        finally:
            connection.close()

    def purge():
        try:
            filing_read.wait(2)
            purge_expired()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=file), threading.Thread(target=purge)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert Incident.objects.filter(patient=patient, occurred_at__gt=EXPIRED).count() == 1


def test_a_draft_deleted_with_its_expired_incident_leaves_an_audit_event(nurse):
    """Each deleted draft leaves one, as documented (found by a review helper)."""
    token = uuid.uuid4()
    old_incident(reporter=nurse, submission_token=token)
    Draft.objects.create(pk=token, owner=nurse, data={})
    result = purge_expired(now=NOW)
    assert result.drafts == 1
    purged = AuditEvent.objects.filter(action=audit.Action.RECORDS_PURGED)
    assert ("incidents.draft", str(token)) in set(purged.values_list("object_type", "object_id"))


@pytest.mark.parametrize("years", [2026, 9999])
def test_a_retention_period_reaching_past_year_one_keeps_incidents_and_still_purges_drafts(
    nurse, settings, years
):
    # Found by a review helper: "keep for ever" (RETENTION_YEARS=9999) started the app
    # and then made every purge, drafts included, end in a traceback.
    from incidents.models import Draft, Incident

    assert run_django("check", DJANGO_DEBUG="true", RETENTION_YEARS=str(years)).returncode == 0
    settings.BOUNDARIES = {**settings.BOUNDARIES, "RETENTION_YEARS": years}
    old = IncidentFactory(reporter=nurse)
    long_ago = datetime(1990, 5, 1, tzinfo=UTC)
    Incident.objects.filter(pk=old.pk).update(occurred_at=long_ago, submitted_at=long_ago)
    abandoned = Draft.objects.create(owner=nurse, data={"location": ["Bay 3"]})
    Draft.objects.filter(pk=abandoned.pk).update(updated_at=datetime.now(UTC) - timedelta(days=40))
    call_command("purge_expired", "--dry-run", verbosity=0)
    assert Draft.objects.filter(pk=abandoned.pk).exists()
    call_command("purge_expired", verbosity=0)
    assert not Draft.objects.filter(pk=abandoned.pk).exists()
    assert Incident.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.exists()


def test_a_dry_run_counts_a_draft_of_an_expired_incident_once(nurse):
    """A draft an expired incident carries (its token) has not changed for as long, so
    it is abandoned too: the dry run once counted it under both headings, where the
    real run deletes it once, with its incident (found by review)."""
    token = uuid.uuid4()
    old_incident(reporter=nurse, submission_token=token)
    Draft.objects.filter(pk=draft(nurse, changed_at=NOW - timedelta(days=8 * 366)).pk).update(
        id=token
    )

    counted = purge_expired(now=NOW, dry_run=True)
    deleted = purge_expired(now=NOW)

    assert deleted.drafts + deleted.abandoned_drafts == 1
    assert counted.counts() == deleted.counts()
