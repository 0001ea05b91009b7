"""Emails about incidents. They carry a link and a reference, never a patient
reference or what anyone said: email leaves the organisation's systems.

Each email is written to the outbox (``QueuedEmail``), one per recipient, in the
transaction of the change it tells of, so a change rolled back sends nothing and a mail
server that is down loses nothing. Once the transaction commits, the request hands each
email to the server. If the server cannot be reached, this process leaves every email to
the cron command for a minute (``RELAY_DOWN_SECONDS``): an unreachable server costs a
request one connection's timeout, however many emails it queued. The cron command
``send_incident_digests`` sends what is left (``deliver``). Each email names its person,
and goes to their address as it is when it is sent: to nobody once they have left."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import time
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from boundaries import audit
from boundaries.models import Membership, Role, Unit, User
from incidents import reports
from incidents.models import Incident, QueuedEmail

logger = logging.getLogger(__name__)

# The server refused this message (an address, the sender, the content), not the
# connection: the next message may still go.
MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def supervisors_of(unit_id: int, *, with_address: bool = True) -> list[User]:
    """Who reviews the unit's reports (those with an email address, unless
    ``with_address`` is false)."""
    people = User.objects.filter(
        # A closed unit's supervisors no longer review its reports; managers do.
        role=Role.SUPERVISOR,
        is_active=True,
        memberships__unit_id=unit_id,
        memberships__unit__is_active=True,
    )
    if with_address:
        people = people.exclude(email="")
    return list(people.order_by("pk"))


def _send(
    *, template: str, subject: str, recipients: list[User], context: dict, at_once: bool = True
) -> list[QueuedEmail]:
    """Queue the email, one message per person (nobody sees who else was told, and an
    address the server refuses holds up nobody else), in the caller's transaction; they
    are handed to the mail server after the commit (``at_once``), or by the next
    ``deliver``, at each person's address as it is then. Returns the emails queued: none
    when there is nobody to send it to."""
    if not recipients:
        return []
    body = render_to_string(template, {**context, "site_url": settings.SITE_URL})
    # One per person, even for people who share an address (a ward's mailbox): each
    # email follows its own person, who may leave or change address on their own.
    people = {person.pk: person for person in recipients}.values()
    emails = QueuedEmail.objects.bulk_create(
        QueuedEmail(recipient=person, recipients=[person.email], subject=subject, body=body)
        for person in people
    )
    if at_once:
        _deliver_after_commit([email.pk for email in emails])
    return emails


# After the mail server could not be reached, requests leave their emails to the cron
# command for this long, rather than each waiting out a connection timeout of its own.
# Held in this process's cache (the default, per process): each app server finds out
# for itself, once a minute at most.
RELAY_DOWN_SECONDS = 60
RELAY_DOWN_KEY = "boundaries:mail-relay-down"


def _deliver_after_commit(email_ids: list[int]) -> None:
    # robust: a failure here is logged and never turns a saved change into an error page.
    # The time allowed runs from when these emails were written: the batches of one
    # transaction, written moments apart, run out of it at about the same time.
    until = time.monotonic() + AT_ONCE_SECONDS
    transaction.on_commit(partial(_deliver_at_once, email_ids, until=until), robust=True)


# A request hands its emails to the mail server until this long after it wrote them
# (an email started by then is finished); the rest wait for the cron command. A relay
# that takes each message slowly would otherwise hold the request one message after
# another, past gunicorn's 30 s: the change saved, and the person shown no confirmation.
AT_ONCE_SECONDS = 10


def _deliver_at_once(email_ids: list[int], *, until: float | None = None) -> None:
    if cache.get(RELAY_DOWN_KEY):
        return  # the next send_incident_digests sends them
    deliver(ids=email_ids, until=until)


class Delivery(NamedTuple):
    """What one ``deliver`` did: emails sent and not sent; whether it stopped because
    the mail server could not be reached (the rest wait for the next run), how many
    emails it gave up on (their last attempt failed), and how many it did not send
    because their person is no longer active or has no address (given up on at once)."""

    sent: int
    failed: int
    unreachable: bool = False
    given_up: int = 0
    no_recipient: int = 0

    def trouble(self, *, waiting: int) -> str:
        """What a person must act on, for a cron command to fail with: the mail server
        could not be reached (``waiting`` emails wait), or emails were given up on after
        the last attempt. Empty otherwise: an address refused once is tried again at the
        next run (failing every hourly run for the two days until it is given up on would
        bury the rest), and an email to someone who has left needs nobody."""
        problems = []
        if self.unreachable:
            problems.append(
                f"the mail server could not be reached; {waiting} email(s) wait for the "
                "next run of send_incident_digests"
            )
        if self.given_up:
            problems.append(
                f"{self.given_up} email(s) given up on after {QueuedEmail.MAX_ATTEMPTS} attempts"
            )
        if not problems:
            return ""
        return (
            "; ".join(problems).capitalize() + ". The mail server's answer for each is in "
            "the log and in the admin site (Queued emails)."
        )


def deliver(
    *, ids: list[int] | None = None, limit: int = 500, until: float | None = None
) -> Delivery:
    """Hand queued emails (``ids``, or every one waiting) to the mail server over one
    connection, oldest first. Each is claimed first (a conditional UPDATE), so two
    processes never send the same one. Stops at the first failure that is not the
    message's own (the server unreachable, timing out, closing the connection): the
    rest would wait as long, and is tried at the next run. Each goes to its person's
    address as it is now (``_addresses_now``). ``until``: a ``time.monotonic()`` after
    which no further email is started; those left are not attempted, and wait for the
    next run."""
    queued = QueuedEmail.objects.to_deliver(now=timezone.now())
    if ids is not None:
        queued = queued.filter(pk__in=ids)
    sent = failed = given_up = no_recipient = 0
    unreachable = False
    connection = None
    try:
        for email in queued.order_by("pk")[:limit]:
            if until is not None and time.monotonic() >= until:
                break
            if not _claim(email):
                continue
            addresses, why_not = _addresses_now(email)
            if not addresses:
                no_recipient += 1
                _give_up(email, why_not)
                continue
            if email.recipients != addresses:
                QueuedEmail.objects.filter(pk=email.pk).update(recipients=addresses)
            try:
                if connection is None:
                    connection = mailers.default
                    connection.open()
                connection.send_messages(
                    [EmailMessage(email.subject, email.body, None, addresses)]
                )
            except Exception as error:  # recorded on the row; see _message_refused
                failed += 1
                given_up += _not_sent(email, error)
                if not _message_refused(error):
                    cache.set(RELAY_DOWN_KEY, True, RELAY_DOWN_SECONDS)
                    unreachable = True
                    # No goodbye: a relay that stopped answering would make QUIT wait
                    # out the timeout a second time.
                    _drop(connection)
                    break
            else:
                sent += 1
                QueuedEmail.objects.filter(pk=email.pk).update(
                    sent_at=timezone.now(), sending_since=None, last_error=""
                )
    finally:
        if connection is not None:
            _close(connection)
    return Delivery(sent, failed, unreachable, given_up, no_recipient)


def _close(connection) -> None:
    """Close the connection to the mail server. A server that does not answer the
    goodbye (after a message timed out, say) changes nothing: each email's outcome is
    recorded already. Logged, never raised past what ``deliver`` returns."""
    try:
        connection.close()
    except Exception as error:  # smtplib's errors and timeouts alike
        logger.warning(
            "mail server connection not closed cleanly: %s", f"{type(error).__name__}: {error}"
        )


def _drop(connection) -> None:
    """Close the sockets of Django's SMTP backend without QUIT, after the connection
    failed (a timeout, a reset): waiting for the relay's answer to a goodbye would cost
    another timeout. A backend without SMTP sockets (locmem, console) is left to
    ``_close``."""
    for name in ("connection", "_partial_connection"):
        smtp = getattr(connection, name, None)
        if smtp is None or not hasattr(smtp, "sendmail"):
            continue
        with contextlib.suppress(OSError):
            smtp.close()
        setattr(connection, name, None)


def _addresses_now(email: QueuedEmail) -> tuple[list[str], str]:
    """Where ``email`` goes now, read once it is claimed (a person deactivated while a
    run is under way is not emailed later in that run): its person's address as it is
    now, which may have been corrected since the email was written; the addresses it was
    written to when it names nobody (written before emails named people, or by an app
    server not yet upgraded); or none, and why."""
    if email.recipient_id is None:
        if email.written_to:
            return email.written_to, ""
        return [], "Not sent: it has no address."
    person = User.objects.filter(pk=email.recipient_id).values_list("email", "is_active").first()
    if person is None:  # removed just now (their emails go with them)
        return [], "Not sent: the person's record was removed."
    address, active = person
    if not active:
        return [], "Not sent: the person is no longer active."
    if not address:
        return [], "Not sent: the person has no email address."
    return [address], ""


def _give_up(email: QueuedEmail, reason: str) -> None:
    """Given up on at once: no later run would find an address either. Send again
    (admin) tries it afresh, once the person's record is put right."""
    QueuedEmail.objects.filter(pk=email.pk).update(
        sending_since=None, last_error=reason, attempts=QueuedEmail.MAX_ATTEMPTS
    )
    logger.warning("email %s not sent, given up: %s", email.pk, reason)


def _message_refused(error: Exception) -> bool:
    """This message failed, not the connection: the next one may still go. smtplib's
    errors are OSErrors; a refusal answered with 421 is the server closing the
    connection. Anything else the backend raises is the message's own (an address it
    cannot encode is a ValueError)."""
    if isinstance(error, MESSAGE_REFUSED):
        return getattr(error, "smtp_code", None) != 421
    return not isinstance(error, OSError)


def _claim(email: QueuedEmail) -> bool:
    claimed = QueuedEmail.objects.filter(
        pk=email.pk, attempts=email.attempts, sent_at__isnull=True
    ).update(attempts=F("attempts") + 1, sending_since=timezone.now())
    email.attempts += 1
    return claimed == 1


def _not_sent(email: QueuedEmail, error: Exception) -> bool:
    """Record why; True when that was the email's last attempt (given up on)."""
    reason = f"{type(error).__name__}: {error}"[:500]
    QueuedEmail.objects.filter(pk=email.pk).update(sending_since=None, last_error=reason)
    if email.attempts >= QueuedEmail.MAX_ATTEMPTS:
        logger.error(
            "email %s not sent after %s attempts, given up: %s", email.pk, email.attempts, reason
        )
        return True
    else:
        logger.warning(
            "email %s not sent (attempt %s of %s), tried again later: %s",
            email.pk,
            email.attempts,
            QueuedEmail.MAX_ATTEMPTS,
            reason,
        )
        return False


@transaction.atomic
def send_again(*, ids: list[int], request: HttpRequest) -> int:
    """Emails given up on (of ``ids``) are tried again by the next runs of the cron
    command, as if just written: their attempts count from 0 again. Each is recorded in
    the audit trail. Emails sent, still being tried, or in a hand-over that may not be
    over yet are left as they were, so none is sent twice. Returns how many."""
    handing_over_since = timezone.now() - QueuedEmail.HAND_OVER_LIMIT
    emails = list(
        QueuedEmail.objects.given_up()
        .filter(
            Q(sending_since__isnull=True) | Q(sending_since__lt=handing_over_since),
            pk__in=ids,
        )
        .select_for_update()
        .only("pk")
        .order_by("pk")
    )
    QueuedEmail.objects.filter(pk__in=[email.pk for email in emails]).update(
        attempts=0, sending_since=None
    )
    with audit.deferred():
        for email in emails:
            audit.record(action=audit.Action.EMAIL_SENT_AGAIN, request=request, target=email)
    return len(emails)


def managers() -> list[User]:
    return list(User.objects.filter(role=Role.MANAGER, is_active=True).exclude(email=""))


def _others(people: list[User], left_out: set[int]) -> list[User]:
    return [user for user in people if user.pk not in left_out]


def told_about(incident: Incident) -> list[User]:
    """Who hears about one incident: the unit's supervisors other than its reporter
    (nobody is told of their own report), or, when that leaves nobody, the managers."""
    return _told_about_units([incident.unit_id], left_out={incident.reporter_id})


def _told_about_units(unit_ids: list[int], *, left_out: set[int]) -> list[User]:
    """Who hears of news touching these units: each unit's supervisors, other than
    ``left_out``; and the managers as well when one of the units leaves nobody (no
    supervisor, or a closed unit), since they review its reports. An alert spanning a
    ward with supervisors and one without reaches someone for each."""
    memberships = (
        Membership.objects.filter(
            unit_id__in=unit_ids,
            unit__is_active=True,
            user__role=Role.SUPERVISOR,
            user__is_active=True,
        )
        .exclude(user__email="")
        .exclude(user_id__in=left_out)
        .select_related("user")
        .order_by("user_id")
    )
    covered: set[int] = set()
    recipients: dict[int, User] = {}
    for membership in memberships:
        covered.add(membership.unit_id)
        recipients[membership.user_id] = membership.user
    if covered != set(unit_ids):
        recipients.update((person.pk, person) for person in _others(managers(), left_out))
    return list(recipients.values())


def new_incident_at_once(incident_id: int) -> None:
    """Tell the unit's supervisors of a high-severity incident as soon as it is filed.
    Runs in the filing's transaction: the incident is marked notified (claimed, with a
    conditional UPDATE) before anyone else can see it, so no digest sends it again."""
    incident = Incident.objects.select_related("unit").get(pk=incident_id)
    recipients = told_about(incident)
    if not recipients:
        return  # the digest tells of it once there is someone
    claimed = Incident.objects.filter(pk=incident.pk, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    if claimed:
        _send(
            template="incidents/email/new_incident.txt",
            subject=(
                f"Boundaries: high-severity incident {incident.reference} in {incident.unit.code}"
            ),
            recipients=recipients,
            context={"incidents": [incident], "unit": incident.unit, "urgent": True},
        )


@transaction.atomic
def send_digests() -> int:
    """Email the incidents not yet notified (cron, e.g. hourly): one email per unit and
    set of recipients, who are chosen as for a single incident (``told_about``), so a
    supervisor's own report goes to the others. Returns how many incidents were covered;
    an incident with nobody to tell stays pending until there is someone. The incidents
    are locked and marked notified in the transaction that queues their email, so two
    runs at once never tell of one incident twice."""
    covered = 0
    pending = (
        Incident.objects.filter(notified_at__isnull=True)
        .select_related("unit")
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("unit_id", "submitted_at")
    )
    groups: dict[tuple[int, tuple[User, ...]], list[Incident]] = {}
    supervisors: dict[int, list[User]] = {}
    everyone_managing: list[User] | None = None
    for incident in pending[:2000]:
        if incident.unit_id not in supervisors:
            supervisors[incident.unit_id] = supervisors_of(incident.unit_id)
        left_out = {incident.reporter_id}
        recipients = _others(supervisors[incident.unit_id], left_out)
        if not recipients:
            if everyone_managing is None:
                everyone_managing = managers()
            recipients = _others(everyone_managing, left_out)
        if not recipients:
            logger.warning("nobody to tell of incident %s", incident.pk)
            continue
        groups.setdefault((incident.unit_id, tuple(recipients)), []).append(incident)
    for (_, recipients), incidents in groups.items():
        unit = incidents[0].unit
        sent = _send(
            template="incidents/email/new_incident.txt",
            subject=f"Boundaries: {len(incidents)} new incident{pluralize(len(incidents))} "
            f"in {unit.code}",
            recipients=list(recipients),
            context={"incidents": incidents, "unit": unit, "urgent": False},
            at_once=False,  # the cron command delivers them next
        )
        if sent:
            Incident.objects.filter(
                pk__in=[i.pk for i in incidents], notified_at__isnull=True
            ).update(notified_at=timezone.now())
            covered += len(incidents)
    return covered


def new_alerts(alert_ids: list[int]) -> None:
    """Tell the supervisors of the units involved that a pattern alert was raised."""
    from incidents.models import Alert

    for alert in Alert.objects.filter(pk__in=alert_ids):
        _alert_email(alert, news=AlertNews.RAISED)


class AlertNews:
    """What happened to an alert that its email tells (the subject, and the text)."""

    RAISED = "raised"
    REOPENED = "reopened"
    DRAWN_IN = "drawn_in"

    SUBJECTS = {
        RAISED: "pattern alert",
        REOPENED: "pattern alert open again",
        DRAWN_IN: "pattern alert now involving your unit",
    }


def alerts_grown(
    *,
    reopened: list[int],
    joined: list[int],
    incident_id: int,
    unit_id: int,
    reached: dict[tuple[int, int], list[int]] | None = None,
) -> None:
    """A filing (``incident_id``, in ``unit_id``) joined alerts that were already there.
    An acknowledged one (``reopened``) is open again: everyone told of it hears so
    (acknowledging must not silence a patient who comes back). One of the others that
    had no incident in the filing's unit before reaches that unit for the first time:
    its supervisors hear of it, as they would have had it been raised now. Runs in the
    filing's transaction (the emails are queued with it)."""
    from incidents.models import Alert, AlertIncident

    involved_before = set(
        AlertIncident.objects.filter(alert_id__in=joined, unit_id=unit_id)
        .exclude(incident_id=incident_id)
        .values_list("alert_id", flat=True)
    )
    # (alert, unit) pairs: the filing's own unit, and other units whose incidents this
    # filing linked for the first time (``reached``, with those incidents).
    drawn_in = [(pk, unit_id) for pk in joined if pk not in involved_before]
    for (alert_id, other_unit), linked_now in (reached or {}).items():
        earlier = AlertIncident.objects.filter(alert_id=alert_id, unit_id=other_unit).exclude(
            incident_id__in=linked_now
        )
        if alert_id not in reopened and not earlier.exists():
            drawn_in.append((alert_id, other_unit))
    for alert in Alert.objects.filter(pk__in=reopened):
        _alert_email(alert, news=AlertNews.REOPENED)
    by_id = Alert.objects.in_bulk({alert_id for alert_id, _ in drawn_in})
    for alert_id, unit in drawn_in:
        _alert_email(by_id[alert_id], news=AlertNews.DRAWN_IN, unit_ids=[unit])


def _resting_on_their_own_reports(pairs: set[tuple[int, int]]) -> set[int]:
    """Who an alert (its incidents' ``(unit_id, reporter_id)`` pairs) is news about their
    own reports for, so that it goes to the others, as a single report would: its one
    reporter, or a supervisor whose reports are all its incidents in the units they
    supervise. They do not decide on it (``incidents.views_review``)."""
    reporter_ids = {reporter_id for _, reporter_id in pairs}
    if len(reporter_ids) == 1:
        return reporter_ids
    supervised: dict[int, set[int]] = {}
    for user_id, unit_id in Membership.objects.filter(
        user_id__in=reporter_ids,
        unit_id__in={unit_id for unit_id, _ in pairs},
        unit__is_active=True,
        user__role=Role.SUPERVISOR,
        user__is_active=True,
    ).values_list("user_id", "unit_id"):
        supervised.setdefault(user_id, set()).add(unit_id)
    return {
        user_id
        for user_id, unit_ids in supervised.items()
        if all(reporter_id == user_id for unit_id, reporter_id in pairs if unit_id in unit_ids)
    }


def _alert_email(alert, *, news: str, unit_ids: list[int] | None = None) -> None:
    """Email the supervisors of ``unit_ids`` (default: every unit the alert involves)
    about the alert, and the managers for a unit with none (``_told_about_units``)."""
    from incidents.models import AlertIncident

    pairs = set(
        AlertIncident.objects.filter(alert=alert).values_list("unit_id", "incident__reporter_id")
    )
    if unit_ids is None:
        unit_ids = sorted({unit_id for unit_id, _ in pairs})
    recipients = _told_about_units(unit_ids, left_out=_resting_on_their_own_reports(pairs))
    _send(
        template="incidents/email/new_alert.txt",
        subject=f"Boundaries: {AlertNews.SUBJECTS[news]}, {alert.get_rule_display().lower()}",
        recipients=recipients,
        context={"alert": alert, "news": news},
    )


def incident_updated(incident_id: int, *, new_feedback: bool = False) -> None:
    """Tell the reporter there is news on their report: its status, or feedback
    (``new_feedback``: given or changed in this review)."""
    incident = Incident.objects.select_related("reporter").get(pk=incident_id)
    if not incident.reporter.email or not incident.reporter.is_active:
        return
    _send(
        template="incidents/email/incident_updated.txt",
        subject=f"Boundaries: an update on your report {incident.reference}",
        recipients=[incident.reporter],
        context={"incident": incident, "new_feedback": new_feedback and incident.feedback},
    )


def addendum_added(incident_id: int) -> None:
    """Tell the unit's supervisors that a reporter added to their report: new
    information (he called again, a witness came forward) must not wait unseen on a
    closed incident."""
    incident = Incident.objects.select_related("unit").get(pk=incident_id)
    recipients = told_about(incident)
    _send(
        template="incidents/email/addendum_added.txt",
        subject=f"Boundaries: new information on incident {incident.reference}",
        recipients=recipients,
        context={"incident": incident},
    )


def monthly_summary_readers(unit: Unit | None) -> list[User]:
    """Who is sent the monthly summary: a unit's supervisors; the managers for the whole
    organisation, and for a closed unit (its supervisors no longer see its reports)."""
    if unit is None or not unit.is_active:
        return managers()
    return supervisors_of(unit.pk)


@transaction.atomic
def monthly_summary_ready(
    *, month: reports.Month, unit: Unit | None, recipients: list[User]
) -> list[int]:
    """Queue an email to each of ``recipients`` with a link to the month's summary, for
    the caller to ``deliver``; returns the emails' ids. The link, not the PDF: the
    report stays behind the sign-in, the outbox keeps no copy of it, and each reader's
    PDF is drawn when they open it, leaving out what was done about their own reports
    (as every download does)."""
    scope = reports.Scope(unit)
    emails = _send(
        template="incidents/email/monthly_summary.txt",
        subject=reports.monthly_title(month, scope),
        recipients=recipients,
        context={
            "month": month,
            "scope": scope,
            "path": f"{reverse('incidents:reports')}?{reports.report_query(month, scope)}",
        },
        at_once=False,  # the caller delivers them, and tells the operator how it went
    )
    return [email.pk for email in emails]
