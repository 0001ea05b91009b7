"""Incidents: what happened, who was involved, what was said, and what followed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from boundaries.models import Role, Unit, User

DESCRIPTION_MAX_LENGTH = 5000
WORDS_MAX_LENGTH = 2000
MAX_WITNESSES = 6


class Severity(models.IntegerChoices):
    # Integers, so that "more severe than" is a comparison the database can make.
    LOW = 1, "Low"
    MODERATE = 2, "Moderate"
    HIGH = 3, "High"


class OtherParty(models.TextChoices):
    PATIENT = "patient", "Patient"
    RELATIVE = "relative", "Relative or visitor"
    FORMER_PATIENT = "former_patient", "Former patient"
    OTHER = "other", "Someone else"


class PersonResponse(models.TextChoices):
    ACCEPTED = "accepted", "Accepted the answer"
    ASKED_AGAIN = "asked_again", "Asked again"
    ESCALATED = "escalated", "Escalated (became angry, insistent or threatening)"


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    CLOSED = "closed", "Closed"


class WitnessRole(models.TextChoices):
    STAFF = "staff", "Staff"
    PATIENT = "patient", "Patient"
    VISITOR = "visitor", "Visitor"
    OTHER = "other", "Other"


class TaxonomyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class RequestType(models.Model):
    """What the person asked for or did. Codes are stable: reports and scripts use them.
    Administrators can add types; removing one means marking it inactive."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    base_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices,
        default=Severity.LOW,
        help_text="The least severity an incident of this type is given.",
    )
    position = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    objects = TaxonomyQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Channel(models.Model):
    """How the request reached the clinician."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    objects = TaxonomyQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    """A patient, known only by the organisation's identifier (normalised). No names.

    Pages address a patient by ``public_id`` so that the reference never reaches a URL,
    a page title or a log line."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Patient {self.public_id.hex[:8]}"


class IncidentQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> IncidentQuerySet:
        """What a person may open: their own incidents, plus every incident of the units
        they supervise (all units for managers)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.role == Role.MANAGER:
            return self
        if user.role == Role.SUPERVISOR:
            return self.filter(Q(reporter=user) | Q(unit__in=Unit.objects.supervised_by(user)))
        if user.role == Role.REPORTER:
            return self.filter(reporter=user)
        return self.none()

    def reviewable_by(self, user: User) -> IncidentQuerySet:
        """The incidents a person reviews: those of the units they supervise."""
        return self.filter(unit__in=Unit.objects.supervised_by(user))

    def reported_by(self, user: User) -> IncidentQuerySet:
        return self.filter(reporter=user)

    def in_period(self, start: datetime, end: datetime) -> IncidentQuerySet:
        return self.filter(occurred_at__gte=start, occurred_at__lt=end)


class Incident(models.Model):
    # When and where.
    occurred_at = models.DateTimeField(db_index=False)
    late_reason = models.TextField(
        blank=True, max_length=1000, help_text="Why an incident over 30 days old is reported now."
    )
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="incidents")
    location = models.CharField(max_length=120)

    # Who.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incidents"
    )
    other_party = models.CharField(max_length=20, choices=OtherParty.choices)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="incidents", null=True, blank=True
    )

    # What.
    request_type = models.ForeignKey(RequestType, on_delete=models.PROTECT, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+")
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH)

    # The response: the exact script version, and the words as said (a verbatim copy of the
    # script's words at the time, or the reporter's own).
    script_version = models.ForeignKey(
        "scripts_library.ScriptVersion",
        on_delete=models.PROTECT,
        related_name="incidents",
        null=True,
        blank=True,
    )
    words_used = models.TextField(max_length=WORDS_MAX_LENGTH)
    person_response = models.CharField(max_length=20, choices=PersonResponse.choices)
    ended_interaction = models.BooleanField(default=False)
    called_supervisor = models.BooleanField(default=False)
    called_security = models.BooleanField(default=False)
    called_police = models.BooleanField(default=False)

    # Telling the supervisor, and how the reporter is.
    supervisor_told = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    supervisor_told_at = models.DateTimeField(null=True, blank=True)
    feels_unsafe = models.BooleanField(default=False)
    wants_debrief = models.BooleanField(default=False)

    severity = models.PositiveSmallIntegerField(choices=Severity.choices)

    # Filing: the token the form carried, so that a repeated submission finds this row.
    submission_token = models.UUIDField(unique=True, editable=False)
    submitted_at = models.DateTimeField(default=timezone.now)
    # When the unit's supervisors were sent the new-incident email (None: not yet).
    notified_at = models.DateTimeField(null=True, blank=True)

    # Review.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    review_due_at = models.DateTimeField()

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # My incidents, newest first (keyset pagination on occurred_at, id).
            models.Index(fields=["reporter", "-occurred_at", "-id"], name="incident_reporter_idx"),
            # Monthly figures and the patient aggregates behind the alerts.
            models.Index(fields=["occurred_at", "patient"], name="incident_when_patient_idx"),
            models.Index(fields=["unit", "-occurred_at", "-id"], name="incident_unit_when_idx"),
            models.Index(fields=["patient", "-occurred_at"], name="incident_patient_when_idx"),
            models.Index(
                fields=["unit", "status", "review_due_at"], name="incident_review_queue_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(supervisor_told__isnull=True, supervisor_told_at__isnull=True)
                | Q(supervisor_told__isnull=False, supervisor_told_at__isnull=False),
                name="incident_supervisor_told_who_and_when",
                violation_error_message="Say both who you told and when, or neither.",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="incident_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="incident_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(other_party__in=OtherParty.values), name="incident_other_party_valid"
            ),
            models.CheckConstraint(
                condition=Q(person_response__in=PersonResponse.values),
                name="incident_person_response_valid",
            ),
            models.CheckConstraint(
                # The form allows a few minutes of clock skew; nothing beyond that.
                condition=Q(occurred_at__lte=F("submitted_at") + timedelta(minutes=10)),
                name="incident_not_in_future",
                violation_error_message="An incident cannot be in the future.",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.pk])

    @property
    def reference(self) -> str:
        """The reference people quote on the phone, e.g. BND-2026-00123: the year of
        filing and the row's number, so it never needs a counter of its own."""
        year = self.submitted_at.year if self.submitted_at else ""
        return f"BND-{year}-{self.pk:05d}"

    @property
    def actions_taken(self) -> list[str]:
        labels = [
            (self.ended_interaction, "Ended the interaction"),
            (self.called_supervisor, "Called the supervisor"),
            (self.called_security, "Called security"),
            (self.called_police, "Called the police"),
        ]
        return [label for done, label in labels if done]

    @property
    def used_own_words(self) -> bool:
        return self.script_version_id is None


class Witness(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="witnesses")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=WitnessRole.choices)
    contact = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "witnesses"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


class Addendum(models.Model):
    """Something the reporter adds after filing. Never edited, never deleted."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="addenda")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(max_length=DESCRIPTION_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "addenda"

    def __str__(self) -> str:
        return f"Addendum to {self.incident_id} at {self.created_at:%Y-%m-%d %H:%M}"


class DraftQuerySet(models.QuerySet):
    def owned_by(self, user: User) -> DraftQuerySet:
        return self.filter(owner=user)


class Draft(models.Model):
    """An incident still being written, kept on the server (never in the browser, which
    would leave patient details on a shared ward computer). Its id is the submission
    token the finished incident carries."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="draft_owner_idx")]

    def __str__(self) -> str:
        return f"Draft {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:draft", args=[self.pk])
