"""The audit trail: who did what to which record, when, from where, and how it ended.

Events never carry free text a person typed, patient references, passwords or session
ids: only ids, codes and the outcome. ``record`` is called inside the transaction of the
change it describes, so the event and the change commit or roll back together.

The trail is tamper-evident. Each event carries the SHA-256 of its own fields and of the
event before it, so changing, removing or reordering a row breaks the chain from there
on, and ``manage.py verify_audit`` names the first row that no longer matches. Appends
are serialised (an advisory lock on PostgreSQL; SQLite allows one writer at a time), so
two requests can never chain onto the same predecessor. On PostgreSQL, triggers on the
table also refuse UPDATE, DELETE and TRUNCATE (see ``AuditEvent.Meta.triggers``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from django.contrib.auth.signals import user_login_failed
from django.db import connections, models, router, transaction
from django.utils import timezone

from boundaries.network import client_address

if TYPE_CHECKING:
    from django.http import HttpRequest

    from boundaries.models import AuditEvent, Unit, User

# The "previous hash" of the very first event.
GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key that serialises appends: the first 8 bytes of
# sha256("boundaries.audit.chain") as a signed 64-bit integer.
CHAIN_LOCK_ID = int.from_bytes(
    hashlib.sha256(b"boundaries.audit.chain").digest()[:8], "big", signed=True
)
# Events recorded inside ``deferred()``, waiting to be appended together at its end.
_pending: ContextVar[list | None] = ContextVar("boundaries_audit_pending", default=None)


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
    REPORT_EMAILED = "report.emailed", "Report's link emailed"
    CSV_EXPORTED = "csv.exported", "CSV exported"
    CSV_DETAILS_EXPORTED = "csv.details_exported", "CSV with patient details exported"
    EVIDENCE_EXPORTED = "evidence.exported", "Evidence log exported"
    SIGN_IN_SUCCEEDED = "sign_in.succeeded", "Sign-in succeeded"
    SIGN_IN_FAILED = "sign_in.failed", "Sign-in failed"
    PASSWORD_ACCEPTED = "sign_in.password_accepted", "Password accepted, second step due"
    SECOND_FACTOR_FAILED = "sign_in.second_factor_failed", "Second-step code refused"
    LOCKED_OUT = "sign_in.locked_out", "Locked out"
    SIGNED_OUT = "sign_in.signed_out", "Signed out"
    SESSION_EXPIRED = "sign_in.session_expired", "Session expired"
    TWO_FACTOR_ENROLLED = "two_factor.enrolled", "Two-factor sign-in set up"
    TWO_FACTOR_RESET = "two_factor.reset", "Two-factor sign-in reset"
    PASSWORD_CHANGED = "account.password_changed", "Password changed"
    PASSWORD_RESET = "account.password_reset", "Password reset by email link"
    PASSWORD_SET = "account.password_set", "Password set by an administrator"
    PERMISSION_REFUSED = "permission.refused", "Permission refused"
    THRESHOLDS_CHANGED = "alerts.thresholds_changed", "Alert thresholds changed"
    RECORDS_PURGED = "retention.purged", "Expired records purged"
    EMAIL_SENT_AGAIN = "email.sent_again", "Given-up email queued to be sent again"


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
    about: tuple[str, str] = ("", ""),
) -> AuditEvent:
    """Append one event to the trail. Call it inside the transaction of the change.

    ``about``: what the event concerns when that is no row (``target``), as a kind and
    a value, such as ``("month", "2026-10")`` for a report. Never personal data."""
    from boundaries.models import AuditEvent

    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    object_type, object_id = about
    if target is not None:
        object_type, object_id = target._meta.label_lower, str(target.pk)
    event = AuditEvent(
        action=action,
        actor=actor,
        actor_role=getattr(actor, "role", "") or "",
        object_type=object_type,
        object_id=object_id,
        unit=unit,
        source_address=client_address(request) if request is not None else "",
        outcome=outcome,
    )
    return _append(event)


def record_route_refused(*, request: HttpRequest) -> AuditEvent:
    """A signed-in person asked for a page their role does not open. The route's name
    (a code from the URLconf, never what they typed) stands in for the object."""
    from boundaries.models import AuditEvent

    match = request.resolver_match
    event = AuditEvent(
        action=Action.PERMISSION_REFUSED,
        actor=request.user,
        actor_role=request.user.role,
        object_type="route",
        object_id=(match.view_name if match is not None else "")[:40],
        source_address=client_address(request),
        outcome=Outcome.DENIED,
    )
    return _append(event)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside this block, ``record`` collects events and appends them all when the
    block ends, in the order recorded: one lock, one read of the last hash and one
    INSERT, at the end of the caller's work.

    The chain's lock serialises appends until the transaction commits, so whatever a
    transaction does after its first append waits for every other writer. Filing an
    incident records its creation and then evaluates the pattern rules; deferring the
    events keeps that evaluation out of the serialised part. Use it inside the
    transaction of the change: if the block raises, nothing is appended (and the
    transaction rolls back). Nested blocks append with the outermost one."""
    if _pending.get() is not None:
        yield
        return
    token = _pending.set([])
    try:
        yield
        events = _pending.get()
    finally:
        _pending.reset(token)
    if events:
        _append_all(events)


def _append(event: AuditEvent) -> AuditEvent:
    pending = _pending.get()
    if pending is not None:
        pending.append(event)
        return event
    _append_all([event])
    return event


def _append_all(events: list[AuditEvent]) -> None:
    model = type(events[0])
    using = router.db_for_write(model)
    # No savepoint: inside the caller's transaction the events and the change commit or
    # roll back together anyway, and a savepoint is two more round trips per write.
    with transaction.atomic(using=using, savepoint=False):
        connection = connections[using]
        if connection.vendor == "postgresql":
            # Held until the caller's transaction ends: the next writer waits here and
            # then reads this event as its predecessor, so the chain never forks.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_ID])
        previous = (
            model.objects.using(using).order_by("-id").values_list("hash", flat=True).first()
        ) or GENESIS_HASH
        for event in events:
            # Taken under the lock, so times never go backwards along the chain.
            event.occurred_at = timezone.now()
            event.previous_hash = previous
            event.hash = previous = event_hash(event)
        model.objects.using(using).bulk_create(events)


def canonical_form(event: Any) -> bytes:
    """The bytes an event's hash covers: every recorded field and the previous hash, as
    JSON with sorted keys. Works on the model and on its historical (migration) form."""
    fields = {
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "action": event.action,
        "actor": event.actor_id,
        "actor_role": event.actor_role,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "unit": event.unit_id,
        "source_address": event.source_address,
        "outcome": event.outcome,
        "previous_hash": event.previous_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def event_hash(event: Any) -> str:
    return hashlib.sha256(canonical_form(event)).hexdigest()


@dataclass(frozen=True)
class Mismatch:
    event_id: int
    reason: str


@dataclass(frozen=True)
class Verification:
    checked: int
    last_hash: str
    mismatch: Mismatch | None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def verify_chain(events: Iterator[Any] | None = None) -> Verification:
    """Recompute the chain in insertion order and stop at the first event that does not
    match: its own fields were changed, or the event before it is not the one it was
    chained to (a row was removed, inserted or reordered)."""
    from boundaries.models import AuditEvent

    if events is None:
        events = AuditEvent.objects.order_by("id").iterator(chunk_size=2000)
    expected_previous = GENESIS_HASH
    checked = 0
    for event in events:
        if event.previous_hash != expected_previous:
            reason = (
                "it does not follow the event before it "
                "(an event was removed, inserted or reordered)"
            )
            return Verification(checked, expected_previous, Mismatch(event.pk, reason))
        if event_hash(event) != event.hash:
            reason = "its contents no longer match its hash (the row was changed)"
            return Verification(checked, expected_previous, Mismatch(event.pk, reason))
        expected_previous = event.hash
        checked += 1
    return Verification(checked, expected_previous, None)


# --- Sign-in events that only Django's and django-axes' signals can see -----------------
# Failed passwords are reported by ``authenticate()`` wherever it is called, and lockouts
# only by django-axes, so these two are recorded by receivers; every other event is
# recorded by the view or service that causes it.


def _sign_in_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs):
    from boundaries.models import User

    # What was typed is never stored: only the account it names, when there is one.
    username = credentials.get("username")
    actor = None
    if isinstance(username, str) and 0 < len(username) <= 150:
        actor = User.objects.filter(username=username).first()
    record(action=Action.SIGN_IN_FAILED, actor=actor, request=request, outcome=Outcome.FAILURE)


def _locked_out(sender, request: HttpRequest | None = None, username: str = "", **kwargs):
    from boundaries.models import User

    actor = None
    if isinstance(username, str) and 0 < len(username) <= 150:
        actor = User.objects.filter(username=username).first()
    record(action=Action.LOCKED_OUT, actor=actor, request=request, outcome=Outcome.DENIED)


def connect_sign_in_receivers() -> None:
    from axes.signals import user_locked_out

    user_login_failed.connect(_sign_in_failed, dispatch_uid="boundaries.audit.sign_in_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="boundaries.audit.locked_out")
