"""The retention purge, reviews and addenda at the same moment as each other and as
filing: PostgreSQL's row locks, taken in one order everywhere (patient, incident, then
the audit chain). Found by a review helper; each of these once lost data, failed with a
500 or deadlocked."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection, transaction

from incidents import retention, services
from incidents.models import Addendum, Incident, IncidentEvent, Patient, Status
from incidents.retention import purge_expired
from tests.conftest import client_for
from tests.factories import (
    IncidentFactory,
    PatientFactory,
    UnitFactory,
    UserFactory,
    log_incident,
)
from tests.incidents.test_retention import EXPIRED, alert_for, old_incident

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one writer at a time; PostgreSQL's row locks are what this checks.",
    ),
]


def started(work, errors: list) -> threading.Thread:
    """``work`` in a thread with a database connection of its own; what it raises is
    kept in ``errors``."""

    def run() -> None:
        try:
            work()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def then_second(first, second, *, paused: threading.Event, go_on: threading.Event) -> list:
    """Start ``first`` and wait until it pauses holding its locks; start ``second``, let
    it reach the lock it waits for, then let ``first`` go on. Returns what either
    raised."""
    errors: list = []
    one = started(first, errors)
    assert paused.wait(10)
    two = started(second, errors)
    time.sleep(1)
    go_on.set()
    one.join(20)
    two.join(20)
    return errors


def review(incident, supervisor, feedback: str = "") -> None:
    services.review_incident(
        incident=incident,
        reviewer=supervisor,
        expected_version=incident.version,
        status=Status.UNDER_REVIEW,
        feedback=feedback,
        internal_note="",
        actions={},
    )


def add_then_wait(incident, author, *, paused, go_on):
    """The addendum's request: added, then held open until ``go_on``."""

    def add() -> None:
        with transaction.atomic():
            services.add_addendum(
                incident=incident, author=author, text="He rang again.", token=uuid.uuid4()
            )
            paused.set()
            go_on.wait(10)

    return add


def test_an_incident_reviewed_while_the_purge_waits_on_it_is_kept(unit, monkeypatch):
    """A review that only changes the status (or the actions, or the note) leaves its
    activity in a new IncidentEvent row. The purge once locked and re-checked in one
    statement: having waited on the review's row lock, PostgreSQL re-checked only the
    incident's own row, judged its history as before the wait, and deleted the incident
    just reviewed."""
    nurse = UserFactory(units=[unit])
    supervisor = UserFactory(units=[unit], role="supervisor")
    incident = old_incident(reporter=nurse, unit=unit, status=Status.SUBMITTED)
    reviewing, go_on = threading.Event(), threading.Event()
    record = services._record_review_events

    def record_then_wait(*args, **kwargs):  # the row locked and saved, not yet committed
        record(*args, **kwargs)
        reviewing.set()
        go_on.wait(10)

    monkeypatch.setattr(services, "_record_review_events", record_then_wait)

    errors = then_second(
        lambda: review(incident, supervisor), purge_expired, paused=reviewing, go_on=go_on
    )

    assert errors == []
    assert Incident.objects.filter(pk=incident.pk).exists(), (
        "the incident a supervisor had just reviewed was purged"
    )
    assert IncidentEvent.objects.filter(incident_id=incident.pk).exists()


def test_an_addendum_added_while_the_purge_waits_on_the_incident_is_kept():
    """An addendum once took the audit chain's lock first and the incident's row only at
    commit (Django's foreign keys are checked then on PostgreSQL), while the purge takes
    the row, then the chain: each waited on the other and PostgreSQL killed one."""
    unit = UnitFactory(code="WARD-R")
    nurse = UserFactory(units=[unit])
    incident = old_incident(reporter=nurse, unit=unit, status=Status.CLOSED, closed_at=EXPIRED)
    adding, go_on = threading.Event(), threading.Event()

    errors = then_second(
        add_then_wait(incident, nurse, paused=adding, go_on=go_on),
        purge_expired,
        paused=adding,
        go_on=go_on,
    )

    assert errors == [], "the purge and the addendum deadlocked"
    assert Incident.objects.filter(pk=incident.pk).exists(), (
        "the incident the reporter had just added to was purged, with the addendum"
    )
    assert Addendum.objects.filter(incident_id=incident.pk).exists()


def test_an_addendum_and_a_review_of_the_same_incident_do_not_deadlock():
    """The same lock order in everyday use: the review waits for the addendum's lock on
    the incident, then finds the report changed since its page was drawn (a conflict the
    supervisor is shown), never a deadlock."""
    unit = UnitFactory(code="WARD-Q")
    nurse = UserFactory(units=[unit])
    supervisor = UserFactory(units=[unit], role="supervisor")
    incident = IncidentFactory(reporter=nurse, unit=unit)
    adding, go_on = threading.Event(), threading.Event()

    errors = then_second(
        add_then_wait(incident, nurse, paused=adding, go_on=go_on),
        lambda: review(incident, supervisor, feedback="Thank you, I will speak to him."),
        paused=adding,
        go_on=go_on,
    )

    assert [type(error) for error in errors] == [services.ReviewConflict], (
        f"the addendum and the review: {errors!r}"
    )


def test_filing_about_a_patient_the_purge_is_removing_is_filed_not_an_error(monkeypatch):
    """The filing once read the patient without a lock and inserted its incident (the
    foreign key is checked only at commit), waiting only later, in the pattern rules:
    the purge deleted the patient meanwhile and the filing's commit failed, a 500 for
    the nurse. Now the filing locks the patient as it reads it, waits for the purge,
    and makes the patient again."""
    unit = UnitFactory(code="WARD-P")
    nurse = UserFactory(units=[unit])
    patient = PatientFactory()
    old_incident(
        reporter=nurse, unit=unit, patient=patient, status=Status.CLOSED, closed_at=EXPIRED
    )
    batch_locked, go_on = threading.Event(), threading.Event()
    tally_uses = retention.library.tally_uses

    def tally_then_wait(incidents):  # the batch's patients and incidents are locked
        found = tally_uses(incidents)
        batch_locked.set()
        go_on.wait(10)
        return found

    monkeypatch.setattr(retention.library, "tally_uses", tally_then_wait)

    def file() -> None:
        log_incident(
            nurse,
            unit=unit,
            patient_reference=patient.reference,
            description="He came back to the ward and asked again.",
            person_response="asked_again",
        )

    errors = then_second(purge_expired, file, paused=batch_locked, go_on=go_on)

    assert errors == [], "the filing failed"
    assert Incident.objects.filter(patient__reference=patient.reference).count() == 1
    assert Patient.objects.filter(reference=patient.reference).exists()


def purge_pausing(monkeypatch):
    """The purge, pausing once its batch is deleted and before it commits; returns the
    purge, the event it sets then and the one it waits for."""
    deleted, go_on = threading.Event(), threading.Event()
    subtract_uses = retention.library.subtract_uses

    def subtract_then_wait(tallies):
        subtract_uses(tallies)
        deleted.set()
        go_on.wait(10)

    monkeypatch.setattr(retention.library, "subtract_uses", subtract_then_wait)
    return purge_expired, deleted, go_on


def posted(client, path: str, data: dict, responses: list):
    """A request from a page drawn before the purge, sent in a thread of its own."""
    return lambda: responses.append(client.post(path, data))


def test_a_review_sent_while_the_purge_deletes_the_incident_is_told_it_went(monkeypatch):
    """Found by review: the review waited for the purge's lock on the incident, then
    found no row to review: a server error."""
    unit = UnitFactory(code="WARD-S")
    nurse = UserFactory(units=[unit])
    supervisor = UserFactory(units=[unit], role="supervisor")
    incident = old_incident(reporter=nurse, unit=unit, status=Status.UNDER_REVIEW)
    purge, deleted, go_on = purge_pausing(monkeypatch)
    responses: list = []
    data = {"version": str(incident.version), "status": Status.CLOSED, "feedback": "Thanks."}

    errors = then_second(
        purge,
        posted(client_for(supervisor), f"/incidents/{incident.pk}/review/", data, responses),
        paused=deleted,
        go_on=go_on,
    )

    assert errors == []
    assert [response.status_code for response in responses] == [404]


def test_an_alert_decided_while_the_purge_deletes_it_is_told_it_went(monkeypatch):
    """As a review: the decision waited for the purge's lock on the alert, then found no
    row to decide on."""
    unit = UnitFactory(code="WARD-T")
    nurse = UserFactory(units=[unit])
    supervisor = UserFactory(units=[unit], role="supervisor")
    patient = PatientFactory()
    alert = alert_for(patient, old_incident(reporter=nurse, unit=unit, patient=patient))
    purge, deleted, go_on = purge_pausing(monkeypatch)
    responses: list = []
    path = f"{alert.get_absolute_url()}resolve/"
    data = {"resolution": "Spoke to him.", "seen_link": str(alert.links.latest_id())}

    errors = then_second(
        purge, posted(client_for(supervisor), path, data, responses), paused=deleted, go_on=go_on
    )

    assert errors == []
    assert [response.status_code for response in responses] == [404]
