"""Writes that touch several rows or have side effects: filing, drafts, addenda."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from boundaries import audit
from boundaries.models import Unit, User
from incidents import alerts, notifications
from incidents.models import (
    Addendum,
    Channel,
    Draft,
    Incident,
    Patient,
    RequestType,
    Severity,
    Witness,
)
from incidents.severity import derive_severity

if TYPE_CHECKING:
    from django.http import HttpRequest

    from scripts_library.models import ScriptVersion

logger = logging.getLogger(__name__)


class SubmissionConflict(Exception):
    """The submission token belongs to someone else's incident."""


@dataclass(frozen=True)
class WitnessDetails:
    name: str
    role: str
    contact: str = ""


def review_due(*, submitted_at: datetime, severity: int) -> datetime:
    """When a supervisor should have reviewed an incident (a configurable target)."""
    days = (
        settings.BOUNDARIES["REVIEW_TARGET_DAYS_HIGH"]
        if severity == Severity.HIGH
        else settings.BOUNDARIES["REVIEW_TARGET_DAYS"]
    )
    return submitted_at + timedelta(days=days)


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
) -> tuple[Incident, bool]:
    """File an incident in one transaction and return it with whether it is new.

    The submission token makes filing idempotent: a double click, a resubmission after
    going back, or a second tab carrying the same draft all return the one incident.
    ``patient_reference`` must already be normalised (incidents.patient_refs.clean).
    """
    existing = Incident.objects.filter(submission_token=token).first()
    if existing is not None:
        if existing.reporter_id != reporter.pk:
            raise SubmissionConflict
        return existing, False
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
            )
    except IntegrityError:
        # Another request with the same token won the race; it holds the incident.
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
    **fields,
) -> Incident:
    patient = None
    if patient_reference:
        patient, _ = Patient.objects.get_or_create(reference=patient_reference)
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
    audit.record(
        action=audit.Action.INCIDENT_CREATED,
        actor=reporter,
        request=request,
        target=incident,
        unit=incident.unit,
    )
    alerts.evaluate_incident(incident, request=request)
    if severity == Severity.HIGH:
        transaction.on_commit(lambda: notifications.new_incident_at_once(incident.pk))
    return incident


@transaction.atomic
def save_draft(*, owner: User, draft_id: uuid.UUID, data: dict) -> Draft | None:
    """Create or update a draft. Returns None when the id belongs to someone else or to
    an incident already filed (the draft has done its job)."""
    if Incident.objects.filter(submission_token=draft_id).exists():
        return None
    draft = Draft.objects.select_for_update().filter(pk=draft_id).first()
    if draft is None:
        try:
            with transaction.atomic():
                return Draft.objects.create(pk=draft_id, owner=owner, data=data)
        except IntegrityError:
            draft = Draft.objects.select_for_update().get(pk=draft_id)
    if draft.owner_id != owner.pk:
        return None
    draft.data = data
    draft.save(update_fields=["data", "updated_at"])
    return draft


@transaction.atomic
def add_addendum(
    *, incident: Incident, author: User, text: str, request: HttpRequest | None = None
) -> Addendum:
    addendum = Addendum.objects.create(incident=incident, author=author, text=text)
    audit.record(
        action=audit.Action.ADDENDUM_ADDED,
        actor=author,
        request=request,
        target=incident,
        unit=incident.unit,
    )
    return addendum
