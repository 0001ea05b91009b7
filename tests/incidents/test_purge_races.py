"""The retention purge, reviews and addenda at the same moment as each other and as
filing: PostgreSQL's row locks, taken in one order everywhere (patient, incident, then
the audit chain). Found by a review helper; each of these once lost data, failed with a
500 or deadlocked."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from incidents import retention, services
from incidents.models import Incident, IncidentEvent, Status
from incidents.retention import purge_expired
from tests.factories import UserFactory
from tests.incidents.test_retention import EXPIRED, old_incident


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writer at a time; PostgreSQL's row locks are what this checks.",
)
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
    errors = []

    def record_then_wait(*args, **kwargs):  # the row locked and saved, not yet committed
        record(*args, **kwargs)
        reviewing.set()
        go_on.wait(10)

    monkeypatch.setattr(services, "_record_review_events", record_then_wait)

    def review():
        try:
            services.review_incident(
                incident=incident,
                reviewer=supervisor,
                expected_version=incident.version,
                status=Status.UNDER_REVIEW,
                feedback="",
                internal_note="",
                actions={},
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def purge():
        try:
            purge_expired()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    reviewer = threading.Thread(target=review)
    reviewer.start()
    assert reviewing.wait(10)
    purger = threading.Thread(target=purge)
    purger.start()
    time.sleep(1)  # the purge has read the ids and now waits on the incident's row lock
    go_on.set()
    reviewer.join(20)
    purger.join(20)

    assert errors == []
    assert Incident.objects.filter(pk=incident.pk).exists(), (
        "the incident a supervisor had just reviewed was purged"
    )
    assert IncidentEvent.objects.filter(incident_id=incident.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writer at a time; PostgreSQL's row locks are what this checks.",
)
def test_an_addendum_added_while_the_purge_waits_on_the_incident_is_kept():
    """An addendum once took the audit chain's lock first and the incident's row only at
    commit (Django's foreign keys are checked then on PostgreSQL), while the purge takes
    the row, then the chain: each waited on the other and PostgreSQL killed one."""
    import uuid

    from django.db import transaction

    from incidents.models import Addendum
    from tests.factories import UnitFactory

    unit = UnitFactory(code="WARD-R")
    nurse = UserFactory(units=[unit])
    incident = old_incident(reporter=nurse, unit=unit, status=Status.CLOSED, closed_at=EXPIRED)
    adding, go_on = threading.Event(), threading.Event()
    errors = []

    def add():
        try:
            with transaction.atomic():
                services.add_addendum(
                    incident=incident,
                    author=nurse,
                    text="He called the ward again today.",
                    token=uuid.uuid4(),
                )
                adding.set()
                go_on.wait(10)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def purge():
        try:
            purge_expired()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    adder = threading.Thread(target=add)
    adder.start()
    assert adding.wait(10)
    purger = threading.Thread(target=purge)
    purger.start()
    time.sleep(1)
    go_on.set()
    adder.join(20)
    purger.join(20)

    assert errors == [], "the purge and the addendum deadlocked"
    assert Incident.objects.filter(pk=incident.pk).exists(), (
        "the incident the reporter had just added to was purged, with the addendum"
    )
    assert Addendum.objects.filter(incident_id=incident.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writer at a time; PostgreSQL's row locks are what this checks.",
)
def test_an_addendum_and_a_review_of_the_same_incident_do_not_deadlock():
    """The same lock order in everyday use: the review waits for the addendum's lock on
    the incident, then finds the report changed since its page was drawn (a conflict the
    supervisor is shown), never a deadlock."""
    import uuid

    from django.db import transaction

    from tests.factories import IncidentFactory, UnitFactory

    unit = UnitFactory(code="WARD-Q")
    nurse = UserFactory(units=[unit])
    supervisor = UserFactory(units=[unit], role="supervisor")
    incident = IncidentFactory(reporter=nurse, unit=unit)
    adding, go_on = threading.Event(), threading.Event()
    errors = []

    def add():
        try:
            with transaction.atomic():  # the view's request: add_addendum, then commit
                services.add_addendum(
                    incident=incident, author=nurse, text="He rang again.", token=uuid.uuid4()
                )
                adding.set()
                go_on.wait(10)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def review():
        try:
            services.review_incident(
                incident=incident,
                reviewer=supervisor,
                expected_version=incident.version,
                status=Status.UNDER_REVIEW,
                feedback="Thank you, I will speak to him.",
                internal_note="",
                actions={},
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    adder = threading.Thread(target=add)
    adder.start()
    assert adding.wait(10)
    reviewer = threading.Thread(target=review)
    reviewer.start()
    time.sleep(0.5)  # the review holds the incident's row and waits for the chain's lock
    go_on.set()
    adder.join(20)
    reviewer.join(20)

    assert [type(error) for error in errors] == [services.ReviewConflict], (
        f"the addendum and the review: {errors!r}"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writer at a time; PostgreSQL's row locks are what this checks.",
)
def test_filing_about_a_patient_the_purge_is_removing_is_filed_not_an_error(monkeypatch):
    """The filing once read the patient without a lock and inserted its incident (the
    foreign key is checked only at commit), waiting only later, in the pattern rules:
    the purge deleted the patient meanwhile and the filing's commit failed, a 500 for
    the nurse. Now the filing locks the patient as it reads it, waits for the purge,
    and makes the patient again."""
    from django.utils import timezone

    from incidents.models import Patient
    from tests.factories import PatientFactory, UnitFactory, channel, request_type

    unit = UnitFactory(code="WARD-P")
    nurse = UserFactory(units=[unit])
    patient = PatientFactory()
    old_incident(
        reporter=nurse, unit=unit, patient=patient, status=Status.CLOSED, closed_at=EXPIRED
    )
    batch_locked, go_on = threading.Event(), threading.Event()
    tally_uses = retention.library.tally_uses
    errors = []

    def tally_then_wait(incidents):  # the batch's patients and incidents are locked
        found = tally_uses(incidents)
        batch_locked.set()
        go_on.wait(10)
        return found

    monkeypatch.setattr(retention.library, "tally_uses", tally_then_wait)

    def purge():
        try:
            purge_expired()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    def file():
        try:
            services.log_incident(
                reporter=nurse,
                token=uuid.uuid4(),
                unit=unit,
                occurred_at=timezone.now() - timezone.timedelta(hours=1),
                location="Bay 1",
                other_party="patient",
                patient_reference=patient.reference,
                request_type=request_type(),
                channel=channel(),
                description="He came back to the ward and asked again.",
                script_version=None,
                own_words="No.",
                person_response="asked_again",
                notify=False,
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    purger = threading.Thread(target=purge)
    purger.start()
    assert batch_locked.wait(10)
    filer = threading.Thread(target=file)
    filer.start()
    time.sleep(1)  # the filing has inserted its incident and waits on the patient's lock
    go_on.set()
    purger.join(20)
    filer.join(20)

    assert errors == [], "the filing failed"
    assert Incident.objects.filter(patient__reference=patient.reference).count() == 1
    assert Patient.objects.filter(reference=patient.reference).exists()
