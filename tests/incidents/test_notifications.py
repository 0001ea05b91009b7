"""Supervisors are told of new incidents by email: at once when severity is high, in a
digest otherwise. Emails carry a link, never patient details or what was said."""

import smtplib
import uuid

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from boundaries.models import Role, User
from incidents import notifications
from incidents.models import Incident, QueuedEmail, Severity
from tests.factories import IncidentFactory, PatientFactory, QueuedEmailFactory, UserFactory
from tests.incidents.conftest import incident_post


def test_high_severity_emails_the_units_supervisors_at_once(
    nurse_client, unit, supervisor, other_unit_supervisor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        nurse_client.post(
            "/incidents/new/",
            incident_post(unit, request_type="stalking", description="Found my car at home."),
        )
    incident = Incident.objects.get()
    # The incident itself, and the high-severity alert it raised.
    assert sorted(m.subject.split(":")[1].split()[0] for m in mail.outbox) == [
        "high-severity",
        "pattern",
    ]
    message = next(m for m in mail.outbox if incident.reference in m.subject)
    assert message.to == [supervisor.email]
    assert f"/incidents/{incident.pk}/" in message.body
    for sent in mail.outbox:
        assert sent.to == [supervisor.email]
        assert "9434765919" not in sent.body and "943 476 5919" not in sent.body
        assert "Found my car" not in sent.body
    incident.refresh_from_db()
    assert incident.notified_at is not None


def test_low_severity_waits_for_the_digest(nurse_client, unit, supervisor):
    nurse_client.post("/incidents/new/", incident_post(unit))
    assert mail.outbox == []
    call_command("send_incident_digests", verbosity=0)
    assert len(mail.outbox) == 1
    assert Incident.objects.get().reference in mail.outbox[0].body
    call_command("send_incident_digests", verbosity=0)
    assert len(mail.outbox) == 1


def test_digest_is_one_email_per_unit(db, unit, other_unit, supervisor, other_unit_supervisor):
    IncidentFactory.create_batch(2, reporter=UserFactory(units=[unit]), severity=Severity.LOW)
    IncidentFactory(reporter=UserFactory(units=[other_unit]))
    call_command("send_incident_digests", verbosity=0)
    recipients = sorted(tuple(message.to) for message in mail.outbox)
    assert recipients == sorted([(supervisor.email,), (other_unit_supervisor.email,)])
    assert not Incident.objects.filter(notified_at__isnull=True).exists()
    # Counted in words, not "incident(s)".
    two, one = sorted(mail.outbox, key=lambda message: message.to != [supervisor.email])
    assert two.subject == "Boundaries: 2 new incidents in WARD-A"
    assert two.body.startswith("New boundary incidents have been reported in Ward A.")
    assert one.subject == "Boundaries: 1 new incident in WARD-B"
    assert one.body.startswith("A new boundary incident has been reported in Ward B.")


def test_an_addendum_tells_the_units_supervisors_with_a_link_and_nothing_said(
    nurse,
    nurse_client,
    unit,
    supervisor,
    other_unit_supervisor,
    django_capture_on_commit_callbacks,
):
    """New information on a report, closed or not, reaches those who act on it; the
    email carries the reference and a link, never the words added."""
    incident = IncidentFactory(reporter=nurse, status="closed")
    with django_capture_on_commit_callbacks(execute=True):
        response = nurse_client.post(
            f"/incidents/{incident.pk}/addenda/",
            {"token": str(uuid.uuid4()), "text": "He waited by my car tonight."},
        )

    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == [supervisor.email]
    assert incident.reference in message.subject
    assert f"/incidents/{incident.pk}/" in message.body
    assert "closed: reopen it if the new information needs a response" in message.body
    # The unit by its name, as every other email gives it.
    assert f"{incident.reference} in Ward A has added" in message.body
    assert "waited by my car" not in message.body


def test_a_supervisors_own_report_goes_to_the_other_supervisors_or_else_the_managers(
    supervisor, unit, manager, django_capture_on_commit_callbacks
):
    """Nobody is told of their own report; when the reporter is the unit's only
    supervisor, the managers hear of it instead."""
    from incidents import notifications, services

    incident = IncidentFactory(reporter=supervisor, severity=Severity.HIGH)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_addendum(incident=incident, author=supervisor, text="One more thing.")
        notifications.new_incident_at_once(incident.pk)
    colleague = UserFactory(role="supervisor", units=[unit])
    Incident.objects.filter(pk=incident.pk).update(notified_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.new_incident_at_once(incident.pk)

    assert [message.to for message in mail.outbox] == [
        [manager.email],
        [manager.email],
        [colleague.email],
    ]


def test_the_digest_tells_of_a_supervisors_own_report_as_a_single_email_would(
    db, unit, supervisor, manager
):
    """The hourly digest follows the same rule (found by a review helper): the
    supervisor's own report goes to their colleague, and to the managers while they
    have none; the others' reports still reach the supervisor."""
    own = IncidentFactory(reporter=supervisor, unit=unit, severity=Severity.LOW)
    call_command("send_incident_digests", verbosity=0)
    assert [(message.to, own.reference in message.body) for message in mail.outbox] == [
        ([manager.email], True)
    ]

    mail.outbox.clear()
    colleague = UserFactory(role="supervisor", units=[unit])
    mine = IncidentFactory(reporter=supervisor, unit=unit, severity=Severity.LOW)
    theirs = IncidentFactory(reporter=UserFactory(units=[unit]), severity=Severity.LOW)
    call_command("send_incident_digests", verbosity=0)
    told = {
        (address, reference)
        for message in mail.outbox
        for address in message.to
        for reference in (mine.reference, theirs.reference)
        if reference in message.body
    }
    assert told == {
        (colleague.email, mine.reference),
        (colleague.email, theirs.reference),
        (supervisor.email, theirs.reference),
    }
    assert not Incident.objects.filter(notified_at__isnull=True).exists()


def test_an_incident_with_nobody_to_tell_waits_for_someone(db, unit):
    incident = IncidentFactory(unit=unit, severity=Severity.LOW)
    call_command("send_incident_digests", verbosity=0)
    assert mail.outbox == []
    incident.refresh_from_db()
    assert incident.notified_at is None
    supervisor = UserFactory(role="supervisor", units=[unit])
    call_command("send_incident_digests", verbosity=0)
    assert [message.to for message in mail.outbox] == [[supervisor.email]]


def test_an_alert_resting_on_a_supervisors_own_reports_goes_to_others(
    supervisor, nurse, unit, manager, django_capture_on_commit_callbacks
):
    from incidents import alerts

    def alert_mail():
        with django_capture_on_commit_callbacks(execute=True):
            alerts.evaluate_incident(incident)
        return [message.to for message in mail.outbox if "pattern alert" in message.subject]

    incident = IncidentFactory(reporter=supervisor, severity=Severity.HIGH)
    assert alert_mail() == [[manager.email]]
    mail.outbox.clear()
    # Another's report joins the patient's alert: the supervisor now hears of it.
    IncidentFactory(reporter=supervisor, severity=Severity.HIGH, patient=incident.patient)
    incident = IncidentFactory(reporter=nurse, severity=Severity.HIGH, patient=incident.patient)
    recipients = alert_mail()
    assert recipients and all(to == [supervisor.email] for to in recipients)


def test_an_alert_resting_in_a_supervisors_units_on_their_own_reports_goes_to_others(
    other_unit, supervisor, other_unit_supervisor, manager, django_capture_on_commit_callbacks
):
    # Found by a review helper: an alert spanning two wards whose incidents are each
    # ward's supervisor's own reports is decided by neither (each sees only their own
    # reports in full), only by a manager; the email went to the two supervisors, who
    # could do nothing, and not to the managers, who were never told.
    from incidents.models import Alert

    patient = PatientFactory()
    high = {"patient": patient, "severity": Severity.HIGH}
    _filed_and_evaluated(django_capture_on_commit_callbacks, reporter=supervisor, **high)
    _filed_and_evaluated(
        django_capture_on_commit_callbacks,
        reporter=other_unit_supervisor,
        unit=other_unit,
        **high,
    )
    alert = Alert.objects.get(rule="high_severity")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.new_alerts([alert.pk])
    assert [m.to for m in mail.outbox] == [[manager.email]]

    # A nurse's report on ward B as well: ward B's supervisor decides, and is told; ward
    # A's incidents are still its supervisor's own, so the managers hear of them.
    _filed_and_evaluated(
        django_capture_on_commit_callbacks,
        reporter=UserFactory(units=[other_unit]),
        unit=other_unit,
        **high,
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.new_alerts([alert.pk])
    assert sorted(m.to for m in mail.outbox) == sorted(
        [[other_unit_supervisor.email], [manager.email]]
    )


def test_news_of_a_closed_units_reports_goes_to_the_managers_who_review_them(
    unit, nurse, supervisor, manager, django_capture_on_commit_callbacks
):
    """Its old supervisors can no longer open them (found by a review helper)."""
    from incidents import services

    incident = IncidentFactory(reporter=nurse, unit=unit, severity=Severity.LOW)
    unit.is_active = False
    unit.save()
    call_command("send_incident_digests", verbosity=0)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_addendum(incident=incident, author=nurse, text="He came back.")
    assert [message.to for message in mail.outbox] == [[manager.email], [manager.email]]


def _filed_and_evaluated(capture, **fields):
    from incidents import alerts

    incident = IncidentFactory(**fields)
    with capture(execute=True):
        alerts.evaluate_incident(incident)
    return incident


def _alert_mail() -> list[tuple[str, list[str]]]:
    """Emails about the patient's high-severity alert (a third incident also raises a
    "repeated incidents" one, emailed as any new alert is)."""
    return [(m.subject, m.to) for m in mail.outbox if m.subject.endswith("high-severity incident")]


def test_an_acknowledged_alert_the_patient_reopens_is_news_again(
    unit, nurse, supervisor, django_capture_on_commit_callbacks
):
    # Found by a review helper: resolving and a new incident raised an emailed alert,
    # while acknowledging (the lighter step) silenced every later one.
    from incidents import services
    from incidents.models import Alert, AlertStatus

    patient = PatientFactory()
    high = {"reporter": nurse, "patient": patient, "severity": Severity.HIGH}
    _filed_and_evaluated(django_capture_on_commit_callbacks, **high)
    alert = Alert.objects.get()
    services.acknowledge_alert(alert=alert, user=supervisor, action="Spoke with him", note="")
    mail.outbox.clear()
    _filed_and_evaluated(django_capture_on_commit_callbacks, **high)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert _alert_mail() == [
        ("Boundaries: pattern alert open again, high-severity incident", [supervisor.email])
    ]
    assert "open again" in next(m.body for m in mail.outbox if "open again" in m.subject)
    # Open already: another incident is no news by email (the page shows it).
    mail.outbox.clear()
    _filed_and_evaluated(django_capture_on_commit_callbacks, **high)
    assert _alert_mail() == []


def test_a_unit_an_alert_reaches_for_the_first_time_is_told(
    unit, other_unit, nurse, supervisor, other_unit_supervisor, django_capture_on_commit_callbacks
):
    # Found by a review helper: the patient moved on to a nurse on another ward, whose
    # supervisor could now see the alert but was never told of it.
    patient = PatientFactory()
    high = {"patient": patient, "severity": Severity.HIGH}
    _filed_and_evaluated(django_capture_on_commit_callbacks, reporter=nurse, **high)
    mail.outbox.clear()
    # The same nurse, now working on ward B (one reporter: no "several staff" alert).
    nurse.units.add(other_unit)
    _filed_and_evaluated(
        django_capture_on_commit_callbacks, reporter=nurse, unit=other_unit, **high
    )
    assert _alert_mail() == [
        (
            "Boundaries: pattern alert now involving your unit, high-severity incident",
            [other_unit_supervisor.email],
        )
    ]
    assert "now involves one of your units" in mail.outbox[-1].body
    mail.outbox.clear()
    _filed_and_evaluated(
        django_capture_on_commit_callbacks, reporter=nurse, unit=other_unit, **high
    )
    assert _alert_mail() == []


def test_each_person_told_gets_a_message_of_their_own(
    nurse_client, unit, supervisor, django_capture_on_commit_callbacks
):
    """Found by review: everyone told shared one To: line, so each saw the others'
    addresses, and the server's refusal of one address was silent for the rest."""
    colleague = UserFactory(role="supervisor", units=[unit])
    with django_capture_on_commit_callbacks(execute=True):
        nurse_client.post(
            "/incidents/new/",
            incident_post(unit, request_type="stalking", description="Outside my house."),
        )
    reference = Incident.objects.get().reference
    told = sorted(m.to for m in mail.outbox if reference in m.subject)
    assert told == sorted([[supervisor.email], [colleague.email]])
    assert QueuedEmail.objects.filter(subject__contains=reference).count() == 2


def test_an_alert_spanning_a_unit_without_supervisors_also_reaches_the_managers(
    unit, other_unit, nurse, supervisor, manager, django_capture_on_commit_callbacks
):
    """Found by review: ward A's supervisor was told and ward B's incidents, with nobody
    to review them but the managers, reached nobody who looks after them."""
    from incidents import notifications
    from incidents.models import Alert

    patient = PatientFactory()
    nurse.units.add(other_unit)
    high = {"reporter": nurse, "patient": patient, "severity": Severity.HIGH}
    _filed_and_evaluated(django_capture_on_commit_callbacks, unit=unit, **high)
    _filed_and_evaluated(django_capture_on_commit_callbacks, unit=other_unit, **high)
    alert = Alert.objects.get(rule="high_severity")
    assert set(alert.links.values_list("unit_id", flat=True)) == {
        unit.pk,
        other_unit.pk,
    }
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.new_alerts([alert.pk])
    assert sorted(m.to for m in mail.outbox) == sorted([[supervisor.email], [manager.email]])

    # With a supervisor on ward B as well, the managers are left to their own work.
    ward_b = UserFactory(role="supervisor", units=[other_unit])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.new_alerts([alert.pk])
    assert sorted(m.to for m in mail.outbox) == sorted([[supervisor.email], [ward_b.email]])


def test_a_unit_an_alert_reaches_through_a_late_reports_neighbour_is_told(
    unit, other_unit, nurse, supervisor, other_unit_supervisor, django_capture_on_commit_callbacks
):
    # Found by a review helper: a late report linked another unit's incident to an
    # escalation alert, and that unit was never told.
    from datetime import timedelta

    from django.utils import timezone

    from incidents.models import Alert, AlertIncident, AlertRule, AlertThresholds

    AlertThresholds.objects.update_or_create(pk=1, defaults={"repeat_count": 50})
    nurse.units.add(other_unit)
    patient, now = PatientFactory(), timezone.now()

    def file(**fields):
        return _filed_and_evaluated(
            django_capture_on_commit_callbacks, reporter=nurse, patient=patient, **fields
        )

    file(unit=unit, severity=Severity.LOW, occurred_at=now - timedelta(days=40))
    file(unit=unit, severity=Severity.MODERATE, occurred_at=now - timedelta(days=39))
    escalation = Alert.objects.get(rule=AlertRule.ESCALATION)
    ward_b = file(
        unit=other_unit, severity=Severity.MODERATE, occurred_at=now - timedelta(days=10)
    )
    assert not AlertIncident.objects.filter(alert=escalation, unit=other_unit).exists()
    mail.outbox.clear()
    file(unit=unit, severity=Severity.LOW, occurred_at=now - timedelta(days=11))
    assert AlertIncident.objects.filter(alert=escalation, incident=ward_b).exists()
    assert [m.to for m in mail.outbox if "now involving your unit" in m.subject] == [
        [other_unit_supervisor.email]
    ]


# --- The mail server down or slow (found by review) ---------------------------------------

# What gunicorn allows a request (docs/operations.md: --timeout 30) and what one SMTP
# connection waits for an unreachable relay (settings.MAILERS: "timeout": 10).
GUNICORN_TIMEOUT = 30
SMTP_TIMEOUT = 10


class RelayUnreachable(BaseEmailBackend):
    """Every connection to the relay times out; ``attempts`` counts them."""

    attempts: list[str] = []

    def open(self):
        type(self).attempts.append("connect")
        raise TimeoutError("timed out")

    def send_messages(self, messages):
        self.open()


def relay_down(settings) -> list[str]:
    RelayUnreachable.attempts = []
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RelayUnreachable"}}
    return RelayUnreachable.attempts


def relay_back(settings) -> None:
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def test_a_pattern_alert_email_lost_while_the_relay_was_down_is_sent_when_it_is_back(
    nurse_client, unit, supervisor, django_capture_on_commit_callbacks, settings
):
    relay_down(settings)
    with django_capture_on_commit_callbacks(execute=True):
        response = nurse_client.post(
            "/incidents/new/", incident_post(unit, request_type="stalking")
        )
    assert response.status_code == 302
    assert mail.outbox == []

    relay_back(settings)
    call_command("send_incident_digests", verbosity=0)
    subjects = sorted(message.subject.split(":")[1].split()[0] for message in mail.outbox)
    assert subjects == ["high-severity", "pattern"]
    assert all(message.to == [supervisor.email] for message in mail.outbox)
    call_command("send_incident_digests", verbosity=0)
    assert len(mail.outbox) == 2


def test_feedback_email_lost_while_the_relay_was_down_reaches_the_reporter_later(
    nurse, supervisor_client, django_capture_on_commit_callbacks, settings
):
    from django.utils import timezone

    incident = IncidentFactory(reporter=nurse, notified_at=timezone.now())
    relay_down(settings)
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(
            f"/incidents/{incident.pk}/review/",
            {
                "version": str(incident.version),
                "status": "under_review",
                "actions": ["debrief_offered"],
                "feedback": "Thank you for reporting this so clearly.",
                "internal_note": "",
            },
        )
    assert response.status_code == 302

    relay_back(settings)
    call_command("send_incident_digests", verbosity=0)
    assert [message.to for message in mail.outbox] == [[nurse.email]]
    assert "Thank you" not in mail.outbox[0].body


def test_an_email_waiting_in_the_outbox_goes_to_the_address_its_person_has_now(
    nurse_client, unit, supervisor, django_capture_on_commit_callbacks, settings
):
    """An address corrected while the relay was down: the retry used the address the
    email was written with."""
    relay_down(settings)
    with django_capture_on_commit_callbacks(execute=True):
        nurse_client.post("/incidents/new/", incident_post(unit, request_type="stalking"))
    written_to = supervisor.email
    supervisor.email = "corrected@example.invalid"
    supervisor.save()

    relay_back(settings)
    call_command("send_incident_digests", verbosity=0)

    assert len(mail.outbox) == 2
    assert all(message.to == ["corrected@example.invalid"] for message in mail.outbox)
    for email in QueuedEmail.objects.all():
        assert (email.recipient, email.recipients) == (supervisor, ["corrected@example.invalid"])
    assert written_to not in str([message.to for message in mail.outbox])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("deactivated", "Not sent: the person is no longer active."),
        ("address removed", "Not sent: the person has no email address."),
    ],
)
def test_an_email_for_a_person_no_longer_reachable_is_given_up_on_at_once(
    db, caplog, change, reason
):
    """It went to the address it was written with, deactivated or not; the run that
    finds it so must neither fail (nobody has to act) nor try it again at every run."""
    waiting = QueuedEmailFactory()
    kept = QueuedEmailFactory()
    person = waiting.recipient
    if change == "deactivated":
        person.is_active = False
    else:
        person.email = ""
    person.save()

    call_command("send_incident_digests", verbosity=0)

    assert [message.to for message in mail.outbox] == [[kept.recipient.email]]
    waiting.refresh_from_db()
    assert (waiting.sent_at, waiting.sending_since) == (None, None)
    assert waiting.last_error == reason
    assert list(QueuedEmail.objects.given_up()) == [waiting]
    assert f"email {waiting.pk} not sent, given up: {reason}" in caplog.text
    call_command("send_incident_digests", verbosity=0)
    assert len(mail.outbox) == 1


def test_removing_a_person_removes_the_emails_waiting_for_them(db):
    waiting = QueuedEmailFactory()
    kept = QueuedEmailFactory()
    waiting.recipient.delete()

    call_command("send_incident_digests", verbosity=0)

    assert [message.to for message in mail.outbox] == [[kept.recipient.email]]
    assert not QueuedEmail.objects.filter(pk=waiting.pk).exists()


def test_a_person_deactivated_while_a_run_is_under_way_is_not_emailed(db, settings):
    """Found by review: a run read every email's person once, at its start, and a person
    deactivated while it sent the ones before was still emailed at their old address."""
    first, second = QueuedEmailFactory(), QueuedEmailFactory()
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.DeactivatesAsItSends"}}
    DeactivatesAsItSends.person_id = second.recipient_id

    assert notifications.deliver() == notifications.Delivery(sent=1, failed=0, no_recipient=1)
    assert [message.to for message in mail.outbox] == [[first.recipient.email]]


def test_people_sharing_an_address_each_get_an_email_that_follows_them(db, unit, settings):
    """Found by review: with one email per shared address, named after the first person,
    it was given up on when that person left, though the other still worked there."""
    first = UserFactory(role=Role.SUPERVISOR, units=[unit], email="ward-a@example.invalid")
    second = UserFactory(role=Role.SUPERVISOR, units=[unit], email="Ward-A@example.invalid")
    queued = notifications._send(
        template="incidents/email/monthly_summary.txt",
        subject="Boundaries: shared",
        recipients=[first, second],
        context={"month": "2026-10", "scope": "Ward A", "path": "/reports/"},
        at_once=False,
    )
    first.is_active = False
    first.save()

    assert [email.recipient for email in queued] == [first, second]
    assert notifications.deliver() == notifications.Delivery(sent=1, failed=0, no_recipient=1)
    assert [message.to for message in mail.outbox] == [["Ward-A@example.invalid"]]


@pytest.mark.parametrize("written", [5, "ward@example.invalid", [1], [None], [""]])
def test_an_email_whose_addresses_are_not_a_list_of_addresses_is_not_sent(
    written, administrator_client
):
    """Found by review: such a row (none is written so; a hand-edited or corrupt one)
    made the outbox's admin list a 500, stopped a cron run with the row left claimed, or
    was sent to each letter of a string."""
    odd = QueuedEmailFactory(recipient=None, recipients=written)
    kept = QueuedEmailFactory()

    assert administrator_client.get("/admin/incidents/queuedemail/").status_code == 200
    assert notifications.deliver() == notifications.Delivery(sent=1, failed=0, no_recipient=1)
    assert [message.to for message in mail.outbox] == [[kept.recipient.email]]
    odd.refresh_from_db()
    assert odd.last_error == "Not sent: it has no address."


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_each_waiting_emails_person_by_its_address():
    """Emails written before the outbox named people: the one person with the address,
    in any case; an address two people share, or nobody has now, names nobody, and the
    email goes to that address as written (found by review: given up on, such emails
    were lost without a word). An email written to several people at once becomes one
    each; one already sent is left as it was."""
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    before = [("incidents", "0015_lifecycle_constraints")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_email = executor.loader.project_state(before).apps.get_model(
            "incidents", "QueuedEmail"
        )
        UserFactory(email="shared@example.invalid", is_active=False)
        UserFactory(email="shared@example.invalid")
        supervisor = UserFactory(email="sister.jones@example.invalid")
        nurse = UserFactory(email="nurse@example.invalid")

        def written(*addresses, **fields):
            return old_email.objects.create(
                recipients=list(addresses), subject="Boundaries: one", body="A link.", **fields
            ).pk

        pks = {
            "shared": written("shared@example.invalid"),
            "case": written("Sister.Jones@Example.invalid"),
            "gone": written("old@example.invalid"),
            "sent": written("nurse@example.invalid", sent_at=timezone.now()),
        }
        several = written("nurse@example.invalid", "sister.jones@example.invalid")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    named = dict(QueuedEmail.objects.values_list("pk", "recipient"))
    assert {name: named[pk] for name, pk in pks.items()} == {
        "shared": None,
        "case": supervisor.pk,
        "gone": None,
        "sent": None,
    }
    assert several not in named
    split = QueuedEmail.objects.exclude(pk__in=pks.values())
    assert sorted(split.values_list("recipients", "recipient")) == [
        (["nurse@example.invalid"], nurse.pk),
        (["sister.jones@example.invalid"], supervisor.pk),
    ]
    assert notifications.deliver() == notifications.Delivery(sent=5, failed=0)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "nurse@example.invalid",
        "old@example.invalid",
        "shared@example.invalid",
        "sister.jones@example.invalid",
        "sister.jones@example.invalid",
    ]


def test_an_unreachable_relay_does_not_hold_a_filing_past_the_workers_timeout(
    nurse, nurse_client, unit, supervisor, django_capture_on_commit_callbacks, settings
):
    """A high-severity report about a patient with history is news of the incident and
    of several alerts: each once opened its own connection, waiting SMTP_TIMEOUT each."""
    from datetime import timedelta

    from django.utils import timezone

    from incidents import alerts

    patient = PatientFactory(reference="9434765919")
    colleague = UserFactory(units=[unit])
    for days, reporter in ((20, colleague), (10, nurse)):
        earlier = IncidentFactory(
            reporter=reporter,
            patient=patient,
            severity=Severity.LOW,
            occurred_at=timezone.now() - timedelta(days=days),
            notified_at=timezone.now(),
        )
        alerts.evaluate_incident(earlier, notify=False)
    attempts = relay_down(settings)
    with django_capture_on_commit_callbacks(execute=True):
        response = nurse_client.post(
            "/incidents/new/",
            incident_post(unit, request_type="stalking"),
        )
    assert response.status_code == 302
    assert QueuedEmail.objects.filter(sent_at__isnull=True).count() >= 4
    assert attempts and len(attempts) * SMTP_TIMEOUT < GUNICORN_TIMEOUT, attempts


def test_once_the_relay_is_found_unreachable_requests_leave_email_to_cron_for_a_while(
    nurse_client, unit, supervisor, django_capture_on_commit_callbacks, settings
):
    """Each request would otherwise wait out its own timeout while the relay is down."""
    from django.core.cache import cache

    from incidents import notifications

    attempts = relay_down(settings)

    def file_high_severity() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = nurse_client.post(
                "/incidents/new/", incident_post(unit, request_type="stalking")
            )
        assert response.status_code == 302

    file_high_severity()
    assert len(attempts) == 1
    file_high_severity()
    assert len(attempts) == 1  # within the minute: not tried, left in the outbox
    cache.delete(notifications.RELAY_DOWN_KEY)  # the minute is over
    file_high_severity()
    assert len(attempts) == 2
    assert QueuedEmail.objects.filter(sent_at__isnull=True).count() >= 3


class SlowRelay(LocmemBackend):
    """A relay that takes each message, ``seconds`` after it is handed over (a clock of
    its own: ``notifications`` reads it)."""

    seconds = 4.0
    clock = [0.0]

    def send_messages(self, messages):
        type(self).clock[0] += self.seconds * len(messages)
        return super().send_messages(messages)


def test_a_slow_relay_does_not_hold_a_filing_past_the_workers_timeout(
    nurse_client, unit, supervisor, django_capture_on_commit_callbacks, settings, monkeypatch
):
    """A relay that takes every message, slowly: each person's email was handed over in
    the request, one after another, however long that took (a ward's five supervisors,
    told of the incident and its alert, were 40 s at 4 s each: the worker was killed,
    and the reporter saw no confirmation)."""
    for _ in range(4):
        UserFactory(role=Role.SUPERVISOR, units=[unit])
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.SlowRelay"}}
    SlowRelay.clock[0] = 0.0
    monkeypatch.setattr(notifications.time, "monotonic", lambda: SlowRelay.clock[0])

    with django_capture_on_commit_callbacks(execute=True):
        response = nurse_client.post(
            "/incidents/new/", incident_post(unit, request_type="stalking")
        )

    assert response.status_code == 302
    assert SlowRelay.clock[0] < GUNICORN_TIMEOUT - SMTP_TIMEOUT, SlowRelay.clock
    # The rest wait for the cron command, not counted as attempts that failed.
    waiting = QueuedEmail.objects.filter(sent_at__isnull=True)
    assert waiting.count() == 10 - len(mail.outbox) > 0
    assert set(waiting.values_list("attempts", "last_error")) == {(0, "")}
    call_command("send_incident_digests", verbosity=0)
    assert len(mail.outbox) == 10


def test_a_digest_running_during_the_at_once_email_does_not_send_the_incident_again(
    nurse_client, unit, supervisor, django_capture_on_commit_callbacks, settings
):
    """The at-once email once marked the incident notified only after the hand-off (up
    to SMTP_TIMEOUT seconds): the cron digest, run meanwhile, emailed it too."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.DigestDuringHandOff"}}
    DigestDuringHandOff.ran = False
    with django_capture_on_commit_callbacks(execute=True):
        nurse_client.post("/incidents/new/", incident_post(unit, request_type="stalking"))
    assert DigestDuringHandOff.ran
    reference = Incident.objects.get().reference
    about_it = [m.subject for m in mail.outbox if reference in m.body]
    assert len(about_it) == 1, about_it


class DeactivatesAsItSends(LocmemBackend):
    """An administrator deactivates ``person_id`` while the relay takes a message."""

    person_id = None

    def send_messages(self, messages):
        User.objects.filter(pk=self.person_id).update(is_active=False)
        return super().send_messages(messages)


class DigestDuringHandOff(LocmemBackend):
    """The hourly cron runs, from another process, while the at-once email is handed
    to the relay."""

    ran = False

    def send_messages(self, messages):
        if not type(self).ran and any("high-severity incident" in m.subject for m in messages):
            type(self).ran = True
            call_command("send_incident_digests", verbosity=0)
        return super().send_messages(messages)


class RefusesOneAddress(LocmemBackend):
    refused = "gone@example.invalid"

    def send_messages(self, messages):
        if any(self.refused in message.to for message in messages):
            raise smtplib.SMTPRecipientsRefused({self.refused: (550, b"No such user")})
        return super().send_messages(messages)


def test_the_cron_command_fails_when_a_person_must_act_not_at_every_refusal(db, settings):
    """Found by review: exiting non-zero at every email not sent made one address the
    server refuses fail every hourly run for two days (nothing an operator can do about
    a queued email stops it). It fails the run that gives an email up, and any run that
    cannot reach the mail server."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusesOneAddress"}}
    refused = QueuedEmailFactory(
        recipient__email=RefusesOneAddress.refused, subject="Boundaries: one"
    )
    call_command("send_incident_digests", verbosity=0)  # refused once: tried again later
    QueuedEmail.objects.filter(pk=refused.pk).update(attempts=QueuedEmail.MAX_ATTEMPTS - 1)
    with pytest.raises(CommandError, match=r"1 email\(s\) given up on after 48 attempts"):
        call_command("send_incident_digests", verbosity=0)
    call_command("send_incident_digests", verbosity=0)  # given up: not tried, not failing


def test_an_email_the_server_keeps_refusing_is_given_up_on_and_does_not_hold_the_others(
    db, settings, caplog
):
    from incidents import notifications

    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusesOneAddress"}}
    refused = QueuedEmailFactory(
        recipient__email=RefusesOneAddress.refused, subject="Boundaries: one"
    )
    QueuedEmailFactory(recipient__email="kept@example.invalid", subject="Boundaries: two")

    assert notifications.deliver() == notifications.Delivery(sent=1, failed=1)
    assert [message.subject for message in mail.outbox] == ["Boundaries: two"]
    refused.refresh_from_db()
    assert (refused.sent_at, refused.attempts) == (None, 1)
    assert "SMTPRecipientsRefused" in refused.last_error
    assert f"email {refused.pk} not sent (attempt 1 of" in caplog.text

    QueuedEmail.objects.filter(pk=refused.pk).update(attempts=QueuedEmail.MAX_ATTEMPTS - 1)
    assert notifications.deliver() == notifications.Delivery(sent=0, failed=1, given_up=1)
    assert "given up" in caplog.text
    assert notifications.deliver() == notifications.Delivery(sent=0, failed=0)  # not tried again
    assert len(mail.outbox) == 1


class CannotEncodeOne(LocmemBackend):
    """Django's SMTP backend raises ValueError, not an OSError, for an address whose
    local part is not ASCII (one validate_email accepts: a Kelvin sign for a K)."""

    odd = "\u212aate@example.org"

    def send_messages(self, messages):
        if any(self.odd in message.to for message in messages):
            raise ValueError("Invalid address; only ASCII is allowed in the local part")
        return super().send_messages(messages)


class ClosesWithA421(LocmemBackend):
    """The server answers 421 (closing the connection) at the sender: smtplib raises
    SMTPSenderRefused, though the connection, not the message, failed."""

    attempts: list[str] = []

    def send_messages(self, messages):
        type(self).attempts.append("send")
        raise smtplib.SMTPSenderRefused(421, b"Service not available", "boundaries@example")


def test_an_email_the_backend_cannot_encode_does_not_hold_the_others(db, settings):
    """It once escaped the delivery, so that every run of the cron command failed on it
    and never reached the emails after it (found by review)."""

    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.CannotEncodeOne"}}
    odd = QueuedEmailFactory(recipient__email=CannotEncodeOne.odd, subject="Boundaries: one")
    QueuedEmailFactory(recipient__email="kept@example.invalid", subject="Boundaries: two")

    # Refused once: logged and tried again, not a failed run (it is given up on later).
    call_command("send_incident_digests", verbosity=0)

    assert [message.subject for message in mail.outbox] == ["Boundaries: two"]
    odd.refresh_from_db()
    assert (odd.sent_at, odd.attempts) == (None, 1)
    assert odd.last_error.startswith("ValueError: Invalid address")


def test_a_421_stops_the_run_as_a_lost_connection_does(db, settings):
    """Not one attempt spent on each of the emails after it, on a closed connection."""
    from django.core.cache import cache

    from incidents import notifications

    ClosesWithA421.attempts = []
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.ClosesWithA421"}}
    for number in range(3):
        QueuedEmailFactory(
            recipient__email="kept@example.invalid", subject=f"Boundaries: {number}"
        )

    assert notifications.deliver() == notifications.Delivery(sent=0, failed=1, unreachable=True)
    assert ClosesWithA421.attempts == ["send"]
    assert cache.get(notifications.RELAY_DOWN_KEY)
    assert list(QueuedEmail.objects.order_by("pk").values_list("attempts", flat=True)) == [1, 0, 0]


def test_a_change_rolled_back_sends_nothing(nurse, supervisor, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from incidents import services

    incident = IncidentFactory(reporter=nurse, notified_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                services.add_addendum(incident=incident, author=nurse, text="He came back.")
                raise RuntimeError("the filing failed after")
        except RuntimeError:
            pass
    call_command("send_incident_digests", verbosity=0)
    assert not QueuedEmail.objects.exists()
    assert not any("new information" in message.subject for message in mail.outbox)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The audit chain's lock is PostgreSQL's (an advisory lock); SQLite has one writer.",
)
def test_emails_are_queued_before_the_audit_chains_lock_is_taken(
    nurse, nurse_client, supervisor_client, unit, supervisor
):
    """Every filing, review and addendum waits for that lock: finding the recipients and
    writing the email is no work to do while holding it (found by review)."""

    def order(post) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            assert post().status_code == 302
        sqls = [query["sql"] for query in captured]
        queued = [i for i, sql in enumerate(sqls) if 'INSERT INTO "incidents_queuedemail"' in sql]
        chain = [i for i, sql in enumerate(sqls) if "pg_advisory_xact_lock" in sql]
        assert queued and chain
        return max(queued), min(chain)

    incident = IncidentFactory(reporter=nurse, notified_at=None)
    steps = {
        "high-severity filing": lambda: nurse_client.post(
            "/incidents/new/", incident_post(unit, request_type="stalking")
        ),
        "review": lambda: supervisor_client.post(
            f"/incidents/{incident.pk}/review/",
            {
                "version": str(incident.version),
                "status": "under_review",
                "actions": [],
                "feedback": "Thank you.",
                "internal_note": "",
            },
        ),
        "addendum": lambda: nurse_client.post(
            f"/incidents/{incident.pk}/addenda/", {"token": str(uuid.uuid4()), "text": "Again."}
        ),
    }
    for name, post in steps.items():
        last_queued, chain_locked = order(post)
        assert last_queued < chain_locked, name


class HangsAfterGreeting(BaseEmailBackend):
    """A relay that greets, then answers nothing: the message times out, and so does
    the goodbye that closes the connection (smtplib's QUIT, which Django's SMTP backend
    lets through when it times out)."""

    def open(self):
        return True

    def send_messages(self, messages):
        raise TimeoutError("timed out")

    def close(self):
        raise TimeoutError("timed out")


def test_a_relay_that_does_not_answer_the_goodbye_fails_the_run_with_its_message(db, settings):
    """Closing the connection raised out of ``deliver``: the cron command ended with a
    traceback, not the message saying the emails wait for the next run."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.HangsAfterGreeting"}}
    email = QueuedEmailFactory(subject="Boundaries: one")

    assert notifications.deliver() == notifications.Delivery(sent=0, failed=1, unreachable=True)
    with pytest.raises(CommandError, match=r"could not be reached; 1 email\(s\) wait"):
        call_command("send_incident_digests", verbosity=0)
    email.refresh_from_db()
    assert email.last_error == "TimeoutError: timed out"


class StallingSMTP:
    """An SMTP connection to a relay that stops answering: every command waits out
    the timeout (a clock of its own, read as ``time.monotonic``) and fails."""

    clock = [0.0]
    closed: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        pass

    def _stall(self, *args, **kwargs):
        type(self).clock[0] += SMTP_TIMEOUT
        raise TimeoutError("timed out")

    sendmail = quit = _stall

    def close(self) -> None:
        type(self).closed.append("socket")


class StallingRelay(SmtpBackend):
    connection_class = StallingSMTP


def test_a_relay_that_stops_answering_costs_one_timeout_not_a_second_for_the_goodbye(
    db, settings, monkeypatch
):
    """Found by review: after a message timed out, closing the connection sent QUIT and
    waited out the timeout again for its answer: a relay that stalled on the last email
    a request started before its 10 s were over held the request past gunicorn's 30 s
    (10 + 10 + 10). A connection that failed is dropped without a goodbye."""
    settings.MAILERS = {
        "default": {
            "BACKEND": f"{__name__}.StallingRelay",
            "OPTIONS": {"host": "relay.invalid", "port": 25, "use_tls": False},
        }
    }
    StallingSMTP.clock[0] = 0.0
    StallingSMTP.closed = []
    monkeypatch.setattr(notifications.time, "monotonic", lambda: StallingSMTP.clock[0])
    email = QueuedEmailFactory(subject="Boundaries: one")

    assert notifications.deliver() == notifications.Delivery(sent=0, failed=1, unreachable=True)
    assert StallingSMTP.clock[0] == SMTP_TIMEOUT  # the message's timeout only
    assert StallingSMTP.closed == ["socket"]  # the socket is not left open
    email.refresh_from_db()
    assert email.sending_since is None
    assert email.last_error == "TimeoutError: timed out"
