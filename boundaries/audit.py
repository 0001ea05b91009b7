"""The audit trail: who did what to which record, when, from where, and how it ended.

Events never carry free text a person typed, patient references, passwords or session
ids: only ids, codes and the outcome. ``record`` is called inside the transaction of the
change it describes, so the event and the change commit or roll back together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

from boundaries.network import client_address

if TYPE_CHECKING:
    from django.http import HttpRequest

    from boundaries.models import Unit, User


class Action(models.TextChoices):
    INCIDENT_CREATED = "incident.created", "Incident created"
    INCIDENT_CHANGED = "incident.changed", "Incident changed"
    INCIDENT_REVIEWED = "incident.reviewed", "Incident reviewed"
    INCIDENT_STATUS_CHANGED = "incident.status_changed", "Incident status changed"
    INCIDENT_VIEWED = "incident.viewed", "Incident viewed"
    ADDENDUM_ADDED = "addendum.added", "Addendum added"
    ALERT_RAISED = "alert.raised", "Alert raised"
    ALERT_ACKNOWLEDGED = "alert.acknowledged", "Alert acknowledged"
    ALERT_RESOLVED = "alert.resolved", "Alert resolved"
    TIMELINE_VIEWED = "timeline.viewed", "Patient timeline viewed"
    SCRIPT_DRAFTED = "script.drafted", "Script drafted"
    SCRIPT_PROPOSED = "script.proposed", "Script proposed"
    SCRIPT_APPROVED = "script.approved", "Script approved"
    SCRIPT_REJECTED = "script.rejected", "Script sent back"
    SCRIPT_RETIRED = "script.retired", "Script retired"
    REPORT_EXPORTED = "report.exported", "Report exported"
    CSV_EXPORTED = "csv.exported", "CSV exported"
    EVIDENCE_EXPORTED = "evidence.exported", "Evidence log exported"
    SIGN_IN_SUCCEEDED = "sign_in.succeeded", "Sign-in succeeded"
    SIGN_IN_FAILED = "sign_in.failed", "Sign-in failed"
    LOCKED_OUT = "sign_in.locked_out", "Locked out"
    SIGNED_OUT = "sign_in.signed_out", "Signed out"
    PERMISSION_REFUSED = "permission.refused", "Permission refused"
    THRESHOLDS_CHANGED = "alerts.thresholds_changed", "Alert thresholds changed"
    RECORDS_PURGED = "retention.purged", "Expired records purged"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


def record(
    *,
    action: Action,
    actor: User | None = None,
    request: HttpRequest | None = None,
    target: models.Model | None = None,
    unit: Unit | None = None,
    outcome: Outcome = Outcome.SUCCESS,
):
    """Append one event to the trail. Call it inside the transaction of the change."""
    from boundaries.models import AuditEvent

    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_role=getattr(actor, "role", "") or "",
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        unit=unit,
        source_address=client_address(request) if request is not None else "",
        outcome=outcome,
    )
