"""Writes that touch several rows or have side effects: filing, drafts, addenda,
reviews and the alert lifecycle."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from boundaries import audit
from boundaries.models import Unit, User
from incidents import alerts, notifications
from incidents.models import (
    Addendum,
    Alert,
    AlertStatus,
    AlertThresholds,
    Channel,
    Draft,
    Incident,
    IncidentEvent,
    Patient,
    RequestType,
    Severity,
    Status,
    Witness,
)
from incidents.severity import derive_severity
from scripts_library import services as library

if TYPE_CHECKING:
    from django.http import HttpRequest

    from scripts_library.models import ScriptVersion

logger = logging.getLogger(__name__)


class SubmissionConflict(Exception):
    """The submission token belongs to someone else's incident or draft."""


@dataclass(frozen=True)
class WitnessDetails:
    name: str
    role: str
    contact: str = ""


def review_due(*, submitted_at: datetime, severity: int) -> datetime:
    """When a supervisor should have reviewed an incident (a configurable target): the
    same time of day, that many days later on the local calendar, so a report filed at
    10:00 on the Friday before the clocks change is due at 10:00 on the Monday (adding
    72 hours made it 09:00 or 11:00)."""
    days = (
        settings.BOUNDARIES["REVIEW_TARGET_DAYS_HIGH"]
        if severity == Severity.HIGH
        else settings.BOUNDARIES["REVIEW_TARGET_DAYS"]
    )
    zone = timezone.get_default_timezone()
    local = submitted_at.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
    # A time the clocks skip that day reads as the hour after; a repeated one, its first.
    return local.replace(tzinfo=zone).astimezone(UTC)


def log_incident(
    *,
    reporter: User,
    token: uuid.UUID,
    unit: Unit,
    occurred_at: datetime,
    location: str,
    other_party: str,
    patient_reference: str,
    request_type: RequestType,
    channel: Channel,
    description: str,
    script_version: ScriptVersion | None,
    own_words: str,
    person_response: str,
    ended_interaction: bool = False,
    called_supervisor: bool = False,
    called_security: bool = False,
    called_police: bool = False,
    supervisor_told: User | None = None,
    supervisor_told_at: datetime | None = None,
    feels_unsafe: bool = False,
    wants_debrief: bool = False,
    late_reason: str = "",
    witnesses: list[WitnessDetails] = (),
    request: HttpRequest | None = None,
    notify: bool = True,
    page: PageMark | None = None,
) -> tuple[Incident, bool]:
    """File an incident in one transaction and return it with whether it is new.
    ``page``: the form's page, as for ``save_draft`` (raises
    DraftChangedElsewhere when another page saved the draft since it was drawn).

    The submission token makes filing idempotent: a double click, a resubmission after
    going back, or a second tab carrying the same draft all return the one incident.
    ``patient_reference`` must already be normalised (incidents.patient_refs.clean).
    A token already used is found by the unique constraint on it (the filing view looks
    first, so this path is for the rarer race between two requests).
    """
    try:
        with transaction.atomic():
            incident = _create_incident(
                reporter=reporter,
                token=token,
                unit=unit,
                occurred_at=occurred_at,
                location=location,
                other_party=other_party,
                patient_reference=patient_reference,
                request_type=request_type,
                channel=channel,
                description=description,
                script_version=script_version,
                own_words=own_words,
                person_response=person_response,
                ended_interaction=ended_interaction,
                called_supervisor=called_supervisor,
                called_security=called_security,
                called_police=called_police,
                supervisor_told=supervisor_told,
                supervisor_told_at=supervisor_told_at,
                feels_unsafe=feels_unsafe,
                wants_debrief=wants_debrief,
                late_reason=late_reason,
                witnesses=witnesses,
                request=request,
                notify=notify,
                page=page,
            )
    except IntegrityError:
        # The token was used already, perhaps by another request a moment ago.
        existing = Incident.objects.filter(submission_token=token).first()
        if existing is None:
            raise
        if existing.reporter_id != reporter.pk:
            raise SubmissionConflict from None
        return existing, False
    return incident, True


def _create_incident(
    *,
    reporter: User,
    token: uuid.UUID,
    patient_reference: str,
    script_version: ScriptVersion | None,
    own_words: str,
    witnesses: list[WitnessDetails],
    request: HttpRequest | None,
    notify: bool,
    page: PageMark | None,
    **fields,
) -> Incident:
    draft = (
        Draft.objects.select_for_update()
        .filter(pk=token)
        .only("owner_id", "written_by_page", "revision")
        .first()
    )
    # The token is someone else's draft: a form left on a shared screen when its author's
    # session ended. Filing it would put their words under another name, and leave them
    # a draft they could never file.
    if draft is not None and draft.owner_id != reporter.pk:
        raise SubmissionConflict
    # Sent from a page drawn before another tab saved the report: filing it would drop
    # that tab's work unseen.
    if draft is not None and page is not None and page.refused_by(draft):
        raise DraftChangedElsewhere
    patient = None
    if patient_reference:
        # Locked as it is read: the retention purge may be removing this patient, and
        # the incident's reference to it is checked only at commit. Locked, the filing
        # waits for the purge and then makes the patient again (patients' locks come
        # first in every transaction that takes them).
        patient, _ = Patient.objects.select_for_update().get_or_create(reference=patient_reference)
    severity = derive_severity(
        request_type=fields["request_type"],
        person_response=fields["person_response"],
        called_security=fields["called_security"],
        called_police=fields["called_police"],
        feels_unsafe=fields["feels_unsafe"],
    )
    now = timezone.now()
    incident = Incident.objects.create(
        reporter=reporter,
        submission_token=token,
        patient=patient,
        script_version=script_version,
        # The words said, copied now: a later edit of the script never changes them.
        words_used=script_version.text if script_version is not None else own_words,
        severity=severity,
        submitted_at=now,
        review_due_at=review_due(submitted_at=now, severity=severity),
        **fields,
    )
    Witness.objects.bulk_create(
        Witness(incident=incident, name=w.name, role=w.role, contact=w.contact) for w in witnesses
    )
    Draft.objects.filter(pk=token, owner=reporter).delete()
    # The events are appended once the pattern rules have run, so the audit chain's
    # lock (which every filing takes) is held for one INSERT and the commit only.
    with audit.deferred():
        audit.record(
            action=audit.Action.INCIDENT_CREATED,
            actor=reporter,
            request=request,
            target=incident,
            unit=incident.unit,
        )
        # The patient was locked as it was read (above).
        alerts.evaluate_incident(incident, request=request, notify=notify, patient_locked=True)
        # After the rules (and the patient's lock) and before the audit append: the
        # lock order every transaction here keeps (patient, script use, audit chain).
        if script_version is not None:
            library.count_use(
                script_id=script_version.script_id,
                unit_id=incident.unit_id,
                response=incident.person_response,
            )
        # Queued before the audit append, which every filing and review waits for.
        if notify and severity == Severity.HIGH:
            notifications.new_incident_at_once(incident.pk)
    return incident


class DraftChangedElsewhere(Exception):
    """Another page (tab or window) saved the draft since this one was drawn."""


@dataclass(frozen=True)
class PageMark:
    """Which page of the report form sent a request: its id, the draft's revision it was
    drawn from, and the page it replaced in the same tab."""

    page: str
    revision: int | None
    before: str = ""

    def refused_by(self, draft: Draft) -> bool:
        return draft.changed_elsewhere(self.page, self.revision, self.before)


@transaction.atomic
def save_draft(
    *, owner: User, draft_id: uuid.UUID, data: dict, page: PageMark | None = None
) -> Draft | None:
    """Create or update a draft, saved by ``page`` (the form's page). Returns None when
    the id belongs to someone else or to an incident already filed (the draft has done
    its job); raises DraftChangedElsewhere when another page saved it since this one was
    drawn."""
    draft = Draft.objects.select_for_update().filter(pk=draft_id).first()
    # After the lock: a filing that deleted this draft has committed by now.
    if Incident.objects.filter(submission_token=draft_id).exists():
        return None
    writer = page.page if page is not None else ""
    if draft is None:
        try:
            with transaction.atomic():
                return Draft.objects.create(
                    pk=draft_id, owner=owner, data=data, written_by_page=writer, revision=1
                )
        except IntegrityError:
            draft = Draft.objects.select_for_update().get(pk=draft_id)
    if draft.owner_id != owner.pk:
        return None
    if page is not None and page.refused_by(draft):
        raise DraftChangedElsewhere
    draft.data, draft.written_by_page = data, writer or draft.written_by_page
    draft.revision += 1
    draft.save(update_fields=["data", "updated_at", "written_by_page", "revision"])
    return draft


def add_addendum(
    *,
    incident: Incident,
    author: User,
    text: str,
    token: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> tuple[Addendum, bool]:
    """Add to a filed report, once per ``token`` (the form's): a double click or a form
    sent again returns the addendum already added. Returns it with whether it is new.

    The incident's version moves on: a review form drawn before the addendum was added
    is refused (``ReviewConflict``), so nobody closes a report on what they did not see.
    Raises ``Incident.DoesNotExist`` if the incident went (the retention purge).
    """
    try:
        with transaction.atomic():
            # First, so the incident's row is locked before the audit chain's lock, in
            # the order a review and the retention purge take them (the other way round,
            # an addendum and either could deadlock).
            if not Incident.objects.filter(pk=incident.pk).update(version=F("version") + 1):
                raise Incident.DoesNotExist
            addendum = Addendum.objects.create(
                incident=incident, author=author, text=text, submission_token=token
            )
            # Queued before the audit append, whose lock every writer waits for.
            notifications.addendum_added(incident.pk)
            audit.record(
                action=audit.Action.ADDENDUM_ADDED,
                actor=author,
                request=request,
                target=incident,
                unit=incident.unit,
            )
    except IntegrityError:
        existing = Addendum.objects.filter(submission_token=token).first()
        if existing is None or (existing.incident_id, existing.author_id) != (
            incident.pk,
            author.pk,
        ):
            raise SubmissionConflict from None
        return existing, False
    return addendum, True


class ReviewConflict(Exception):
    """Someone else saved a review of this incident after it was opened."""


class InvalidTransition(Exception):
    """A status change the review workflow does not allow."""


# submitted -> under review -> closed; closed -> under review only with a reason.
ALLOWED_TRANSITIONS = {
    Status.SUBMITTED: {Status.SUBMITTED, Status.UNDER_REVIEW},
    Status.UNDER_REVIEW: {Status.UNDER_REVIEW, Status.CLOSED},
    Status.CLOSED: {Status.CLOSED, Status.UNDER_REVIEW},
}


def review_incident(
    *,
    incident: Incident,
    reviewer: User,
    expected_version: int,
    status: str,
    feedback: str,
    internal_note: str,
    actions: dict[str, bool],
    reopen_reason: str = "",
    request: HttpRequest | None = None,
) -> Incident:
    """Record a supervisor's review: status, follow-up actions, the internal note and
    the feedback the reporter sees. Refuses a save based on an outdated version of the
    incident (ReviewConflict) and any status change the workflow does not allow
    (InvalidTransition); both leave the incident untouched. Raises
    ``Incident.DoesNotExist`` if the incident went (the retention purge)."""
    with transaction.atomic():
        current = Incident.objects.select_for_update().get(pk=incident.pk)
        if current.version != expected_version:
            raise ReviewConflict
        old_status = Status(current.status)
        new_status = Status(status)
        if new_status not in ALLOWED_TRANSITIONS[old_status]:
            raise InvalidTransition(f"{old_status} to {new_status}")
        reopening = old_status == Status.CLOSED and new_status == Status.UNDER_REVIEW
        if reopening and not reopen_reason.strip():
            raise InvalidTransition("reopening needs a reason")

        now = timezone.now()
        changed = [name for name, value in actions.items() if getattr(current, name) != value]
        for name, value in actions.items():
            setattr(current, name, value)
        if current.internal_note != internal_note:
            changed.append("internal_note")
            current.internal_note = internal_note
        feedback_changed = current.feedback != feedback
        if feedback_changed:
            current.feedback = feedback
            current.feedback_at = now
            current.feedback_by = reviewer if feedback else None
        if not changed and not feedback_changed and old_status == new_status:
            # Saved as it was: no new version, and the last reviewer stays who they were.
            return current
        current.status = new_status
        if old_status == Status.SUBMITTED and new_status != Status.SUBMITTED:
            current.reviewed_at = now
        if new_status == Status.CLOSED and old_status != Status.CLOSED:
            current.closed_at = now
        if reopening:
            current.closed_at = None
        current.reviewed_by = reviewer
        current.version = F("version") + 1
        current.save()
        current.refresh_from_db(fields=["version"])

        # Queued before the review's audit events, whose lock every writer waits for.
        if feedback_changed or old_status != new_status:
            notifications.incident_updated(current.pk, new_feedback=feedback_changed)
        _record_review_events(
            current,
            reviewer=reviewer,
            old_status=old_status,
            new_status=new_status,
            changed=changed,
            feedback_changed=feedback_changed,
            reopen_reason=reopen_reason,
            request=request,
        )
    return current


def _record_review_events(
    incident: Incident,
    *,
    reviewer: User,
    old_status: Status,
    new_status: Status,
    changed: list[str],
    feedback_changed: bool,
    reopen_reason: str,
    request: HttpRequest | None,
) -> None:
    events = []
    if old_status != new_status:
        kind = (
            IncidentEvent.Kind.REOPENED
            if old_status == Status.CLOSED
            else IncidentEvent.Kind.STATUS_CHANGED
        )
        events.append(
            IncidentEvent(
                incident=incident,
                actor=reviewer,
                kind=kind,
                from_status=old_status,
                to_status=new_status,
                note=reopen_reason if kind == IncidentEvent.Kind.REOPENED else "",
            )
        )
        audit.record(
            action=audit.Action.INCIDENT_STATUS_CHANGED,
            actor=reviewer,
            request=request,
            target=incident,
            unit=incident.unit,
        )
    if changed:
        events.append(
            IncidentEvent(
                incident=incident,
                actor=reviewer,
                kind=IncidentEvent.Kind.REVIEWED,
                changed_fields=changed,
            )
        )
    if feedback_changed:
        events.append(
            IncidentEvent(
                incident=incident,
                actor=reviewer,
                kind=IncidentEvent.Kind.FEEDBACK,
                note=incident.feedback,
            )
        )
    IncidentEvent.objects.bulk_create(events)
    if changed or feedback_changed:
        audit.record(
            action=audit.Action.INCIDENT_REVIEWED,
            actor=reviewer,
            request=request,
            target=incident,
            unit=incident.unit,
        )


class AlertChanged(Exception):
    """A new incident joined the alert since the page acting on it was drawn."""


def _locked_unresolved(
    alert: Alert, seen_link: int | None, seen_incidents: int | None = None
) -> Alert:
    """The alert's current row, locked; InvalidTransition if it is already resolved
    (a colleague may have resolved it since the page was read), AlertChanged if an
    incident joined it after ``seen_link``, the newest of its links the page showed
    (None: not checked). Links are added under the lock taken here, so none is being
    added meanwhile. Incidents purged since do not count: there is nothing new to see.
    ``seen_incidents``: the number of incidents a page drawn before ``seen_link``
    existed showed, compared instead. ``Alert.DoesNotExist`` if the alert went (the
    retention purge)."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status == AlertStatus.RESOLVED:
        raise InvalidTransition("the alert is already resolved")
    if changed_since(alert, seen_link, seen_incidents):
        raise AlertChanged
    return alert


def changed_since(alert: Alert, seen_link: int | None, seen_incidents: int | None) -> bool:
    """Whether an incident joined ``alert`` since a page was drawn that showed links up
    to ``seen_link`` (or, drawn before that field existed, ``seen_incidents``)."""
    if seen_link is not None:
        return alert.links.added_after(seen_link).exists()
    return seen_incidents is not None and seen_incidents != alert.incident_count


@transaction.atomic
def acknowledge_alert(
    *,
    alert: Alert,
    user: User,
    note: str,
    action: str,
    seen_link: int | None = None,
    seen_incidents: int | None = None,
    request: HttpRequest | None = None,
) -> Alert:
    alert = _locked_unresolved(alert, seen_link, seen_incidents)
    # Once only: a second acknowledgement (a colleague's, a stale page's) would replace
    # the first one's note and action, and who acknowledged. A new matching incident
    # opens the alert again, and then it can be acknowledged again.
    if alert.status != AlertStatus.OPEN:
        raise InvalidTransition("the alert is already acknowledged")
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = user
    alert.acknowledged_at = timezone.now()
    alert.acknowledgement_note = note
    alert.acknowledgement_action = action
    alert.save()
    audit.record(action=audit.Action.ALERT_ACKNOWLEDGED, actor=user, request=request, target=alert)
    return alert


@transaction.atomic
def resolve_alert(
    *,
    alert: Alert,
    user: User,
    note: str,
    seen_link: int | None = None,
    seen_incidents: int | None = None,
    request: HttpRequest | None = None,
) -> Alert:
    alert = _locked_unresolved(alert, seen_link, seen_incidents)
    alert.status = AlertStatus.RESOLVED
    alert.resolved_by = user
    alert.resolved_at = timezone.now()
    alert.resolution_note = note
    alert.save()
    audit.record(action=audit.Action.ALERT_RESOLVED, actor=user, request=request, target=alert)
    return alert


class ThresholdsChanged(Exception):
    """The thresholds were changed since the page sending new ones was drawn."""


@transaction.atomic
def change_thresholds(
    *,
    user: User | None,
    repeat_count: int,
    repeat_days: int,
    staff_count: int,
    staff_days: int,
    seen: str | None = None,
    request: HttpRequest | None = None,
) -> int | None:
    """Save new thresholds and apply them to recent incidents at once. Returns how many
    alerts the new thresholds raised (None: saved already, nothing done).

    ``seen``: when the thresholds the manager's page showed were last changed
    (``updated_at`` as ISO text; None: not checked). A page drawn before another change
    is refused (ThresholdsChanged): it would put that change back unseen. Unless it
    asks for the numbers saved already (the same form sent twice): nothing to do."""
    from incidents import alerts

    AlertThresholds.current()  # the row exists, to be locked
    # Locked: two managers saving at once are served one after the other, the second
    # judged against the first's change.
    thresholds = AlertThresholds.objects.select_for_update().get(pk=1)
    numbers = {
        "repeat_count": repeat_count,
        "repeat_days": repeat_days,
        "staff_count": staff_count,
        "staff_days": staff_days,
    }
    if seen is not None and seen != thresholds.updated_at.isoformat():
        if all(getattr(thresholds, name) == value for name, value in numbers.items()):
            return None
        raise ThresholdsChanged
    for name, value in numbers.items():
        setattr(thresholds, name, value)
    thresholds.updated_by = user
    thresholds.save()
    # The audit chain's lock is taken last, as filing takes it: applying the thresholds
    # locks patients, and a filing holds its patient's lock until it appends its own
    # events. Taking the chain's lock first here would deadlock with such a filing.
    with audit.deferred():
        audit.record(
            action=audit.Action.THRESHOLDS_CHANGED, actor=user, request=request, target=thresholds
        )
        return alerts.reevaluate()
