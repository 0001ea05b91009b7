"""Retention: deleting incidents whose time is up, and drafts that were never filed.

An incident is kept for ``BOUNDARIES["RETENTION_YEARS"]`` (8 by default) after its last
activity: filing, a review, feedback, an addendum, closing. Then it is deleted, with its
witnesses, addenda, history, alert links and any draft still carrying its token; an
alert left with no incident goes too, and so does a patient left with no incident and no
alert, because their reference is personal data kept only for those incidents. Drafts
never filed are deleted ``BOUNDARIES["DRAFT_RETENTION_DAYS"]`` (30 by default) after
their last change. Emails the app sent (the outbox, ``QueuedEmail``) are deleted
``EMAIL_RETENTION_DAYS`` after they went, or after they were written for those given up
on: a link and a reference each, kept long enough to look into a complaint.

Deleted, not anonymised: the description, the words used, the witnesses' names and the
addenda are free text that may name anyone, so no rule can promise that an "anonymised"
incident holds nothing personal; and an incident stripped of what happened no longer
does its job, which is to protect the clinician. The monthly figures of past months are
in the PDFs already sent.

Each deleted incident, alert, patient and draft leaves one audit event (action
``retention.purged``) naming only its type and id, written in the transaction that
deletes it. The audit trail itself is never purged: it is append-only.

Incidents go in batches of ids, one transaction per batch, so memory stays bounded and
a failure leaves every earlier batch done and the current one untouched.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from datetime import MINYEAR, UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from boundaries import audit
from boundaries.models import Unit
from incidents import alerts
from incidents.models import (
    Addendum,
    Alert,
    AlertIncident,
    Draft,
    Incident,
    IncidentEvent,
    Patient,
    QueuedEmail,
    Witness,
)
from scripts_library import services as library

logger = logging.getLogger(__name__)

# Incidents per transaction. Each batch holds the audit trail's append lock while it
# records its events, so batches stay small and quick.
BATCH_SIZE = 200

# Days an email stays in the outbox once sent (or given up on).
EMAIL_RETENTION_DAYS = 30


@dataclass
class PurgeResult:
    """What a purge deleted (or, for a dry run, would delete). Counts only."""

    incidents_cutoff: datetime
    drafts_cutoff: datetime
    dry_run: bool
    incidents: int = 0
    witnesses: int = 0
    addenda: int = 0
    incident_events: int = 0
    alert_links: int = 0
    alerts: int = 0
    patients: int = 0
    # Drafts that carry a deleted incident's submission token.
    drafts: int = 0
    # Drafts never filed, untouched since drafts_cutoff.
    abandoned_drafts: int = 0
    # Emails sent (or given up on) more than EMAIL_RETENTION_DAYS ago.
    emails: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by name, in the order above."""
        return {name: getattr(self, name) for name in COUNTED}


COUNTED = tuple(field.name for field in fields(PurgeResult) if field.type in (int, "int"))


def years_before(moment: datetime, years: int) -> datetime:
    """The same date and time ``years`` calendar years earlier (29 February becomes the
    28th in a year without it). A period reaching past year 1 (``RETENTION_YEARS=9999``:
    keep everything) gives the earliest moment there is: nothing is older."""
    if moment.year - years < MINYEAR + 1:
        return EARLIEST
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


# Comfortably inside the range every database stores, whatever the time zone.
EARLIEST = datetime(MINYEAR + 1, 1, 1, tzinfo=UTC)


def incidents_cutoff(now: datetime) -> datetime:
    return years_before(now, settings.BOUNDARIES["RETENTION_YEARS"])


def drafts_cutoff(now: datetime) -> datetime:
    try:
        return max(now - timedelta(days=settings.BOUNDARIES["DRAFT_RETENTION_DAYS"]), EARLIEST)
    except OverflowError:
        return EARLIEST


def emails_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=EMAIL_RETENTION_DAYS)


def expired_incidents(cutoff: datetime) -> QuerySet[Incident]:
    """Incidents with no activity since ``cutoff``: filed, closed and last given
    feedback before it, with no review, status change or addendum since."""
    recent_history = IncidentEvent.objects.filter(incident=OuterRef("pk"), created_at__gte=cutoff)
    recent_addenda = Addendum.objects.filter(incident=OuterRef("pk"), created_at__gte=cutoff)
    return (
        Incident.objects.filter(submitted_at__lt=cutoff, occurred_at__lt=cutoff)
        .exclude(closed_at__gte=cutoff)
        .exclude(feedback_at__gte=cutoff)
        .exclude(Exists(recent_history))
        .exclude(Exists(recent_addenda))
    )


def abandoned_drafts(cutoff: datetime) -> QuerySet[Draft]:
    return Draft.objects.filter(updated_at__lt=cutoff)


def purge_expired(
    *, now: datetime | None = None, dry_run: bool = False, batch_size: int = BATCH_SIZE
) -> PurgeResult:
    """Delete what has outlived its retention period, or with ``dry_run`` only count
    it. Returns the counts either way."""
    now = now or timezone.now()
    result = PurgeResult(
        incidents_cutoff=incidents_cutoff(now), drafts_cutoff=drafts_cutoff(now), dry_run=dry_run
    )
    if dry_run:
        _count(result)
        result.emails = QueuedEmail.objects.done_before(emails_cutoff(now)).count()
    else:
        _purge_incidents(result, batch_size=batch_size)
        _purge_abandoned_drafts(result, batch_size=batch_size)
        result.emails = QueuedEmail.objects.done_before(emails_cutoff(now)).delete()[0]
    logger.info(
        "retention purge %s",
        "counted (dry run)" if dry_run else "finished",
        extra=asdict(result),
    )
    return result


# --- Counting (dry run) -----------------------------------------------------------------


def _count(result: PurgeResult) -> None:
    expired = expired_incidents(result.incidents_cutoff)
    expired_ids = expired.values("pk")
    result.incidents = expired.count()
    result.witnesses = Witness.objects.filter(incident__in=expired_ids).count()
    result.addenda = Addendum.objects.filter(incident__in=expired_ids).count()
    result.incident_events = IncidentEvent.objects.filter(incident__in=expired_ids).count()
    result.alert_links = AlertIncident.objects.filter(incident__in=expired_ids).count()
    result.drafts = Draft.objects.filter(pk__in=expired.values("submission_token")).count()

    # An alert goes when every incident behind it goes.
    kept_links = AlertIncident.objects.filter(alert=OuterRef("pk")).exclude(
        incident__in=expired_ids
    )
    doomed_alerts = Alert.objects.filter(links__incident__in=expired_ids).exclude(
        Exists(kept_links)
    )
    result.alerts = doomed_alerts.distinct().count()

    # A patient goes when every incident about them goes and no alert about them stays.
    kept_incidents = Incident.objects.filter(patient=OuterRef("pk")).exclude(pk__in=expired_ids)
    kept_alerts = Alert.objects.filter(patient=OuterRef("pk")).exclude(
        pk__in=doomed_alerts.values("pk")
    )
    result.patients = (
        Patient.objects.filter(incidents__in=expired_ids)
        .exclude(Exists(kept_incidents))
        .exclude(Exists(kept_alerts))
        .distinct()
        .count()
    )
    # A draft an expired incident carries goes with it, counted above: not twice.
    result.abandoned_drafts = (
        abandoned_drafts(result.drafts_cutoff)
        .exclude(pk__in=expired.values("submission_token"))
        .count()
    )


# --- Deleting ---------------------------------------------------------------------------


def _purge_incidents(result: PurgeResult, *, batch_size: int) -> None:
    expired = expired_incidents(result.incidents_cutoff)
    last_id = 0
    while True:
        ids = list(
            expired.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return
        last_id = ids[-1]
        _purge_incident_batch(result, expired, ids)


@transaction.atomic
def _purge_incident_batch(
    result: PurgeResult, expired: QuerySet[Incident], ids: list[int]
) -> None:
    # The patients first, in id order, as filing and ``alerts.reevaluate`` take them: a
    # filing about one of them holds its patient's lock while the pattern rules read
    # (and link to alerts) that patient's incidents, old ones included, so locking the
    # incidents first could meet a filing waiting the other way round.
    list(
        Patient.objects.select_for_update()
        .filter(pk__in=Incident.objects.filter(pk__in=ids).values("patient_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # Locked, then checked again: a review saved since the ids were read keeps its
    # incident. In two statements: one that waited for a review's lock re-checks only
    # the incident's own row, and would judge its history (a review's new event) as it
    # was before the wait; the second statement sees what the review committed.
    list(
        Incident.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    rows = list(
        expired.filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "unit_id", "patient_id", "submission_token")
    )
    if not rows:
        return
    ids = [pk for pk, *_ in rows]
    patient_ids = {patient_id for _, _, patient_id, _ in rows if patient_id is not None}
    alert_ids = set(
        AlertIncident.objects.filter(incident__in=ids).values_list("alert_id", flat=True)
    )

    # Read before the incidents go; taken off the running counts after the patients'
    # locks (patient, then script use, then the audit chain, as filing takes them).
    uses = library.tally_uses(Incident.objects.filter(pk__in=ids))

    # Children first, then the incidents (patients and alerts are PROTECTed by them).
    token_drafts = list(
        Draft.objects.filter(pk__in=[token for *_, token in rows]).values_list("pk", flat=True)
    )
    result.drafts += Draft.objects.filter(pk__in=token_drafts).delete()[0]
    result.witnesses += Witness.objects.filter(incident__in=ids).delete()[0]
    result.addenda += Addendum.objects.filter(incident__in=ids).delete()[0]
    result.incident_events += IncidentEvent.objects.filter(incident__in=ids).delete()[0]
    result.alert_links += AlertIncident.objects.filter(incident__in=ids).delete()[0]
    _, deleted = Incident.objects.filter(pk__in=ids).delete()
    result.incidents += deleted.get(Incident._meta.label, 0)

    orphan_alerts = list(
        Alert.objects.filter(pk__in=alert_ids)
        .exclude(Exists(AlertIncident.objects.filter(alert=OuterRef("pk"))))
        .values_list("pk", flat=True)
    )
    _, deleted = Alert.objects.filter(pk__in=orphan_alerts).delete()
    result.alerts += deleted.get(Alert._meta.label, 0)
    # The alerts that keep incidents describe only those (after the patients' locks, as
    # the pattern rules update alerts).
    alerts.recount_after_removal(sorted(alert_ids - set(orphan_alerts)))

    # The patients were locked at the start of the batch, so an incident being filed
    # about one of them either committed before it (and keeps them) or waits for it.
    orphan_patients = list(
        Patient.objects.filter(pk__in=patient_ids)
        .exclude(Exists(Incident.objects.filter(patient=OuterRef("pk"))))
        .exclude(Exists(Alert.objects.filter(patient=OuterRef("pk"))))
        .values_list("pk", flat=True)
    )
    result.patients += Patient.objects.filter(pk__in=orphan_patients).delete()[0]
    library.subtract_uses(uses)

    # Recorded last, so the audit trail's append lock is held for as short a time as
    # possible; the events still commit (or roll back) with the deletions.
    units = Unit.objects.in_bulk({unit_id for _, unit_id, _, _ in rows})
    for pk, unit_id, _, _ in rows:
        _record_purged(Incident(pk=pk), unit=units.get(unit_id))
    for pk in orphan_alerts:
        _record_purged(Alert(pk=pk))
    for pk in orphan_patients:
        _record_purged(Patient(pk=pk))
    for pk in token_drafts:
        _record_purged(Draft(pk=pk))


def _purge_abandoned_drafts(result: PurgeResult, *, batch_size: int) -> None:
    while True:
        with transaction.atomic():
            ids = list(
                abandoned_drafts(result.drafts_cutoff)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return
            result.abandoned_drafts += Draft.objects.filter(pk__in=ids).delete()[0]
            for pk in ids:
                _record_purged(Draft(pk=pk))


def _record_purged(target, *, unit: Unit | None = None) -> None:
    # Type and id only: never what the record said, nor a patient's reference.
    audit.record(action=audit.Action.RECORDS_PURGED, target=target, unit=unit)
