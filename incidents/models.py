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


# The supervisor's follow-up actions: field name and label, in the order shown.
REVIEW_ACTIONS = [
    ("debrief_offered", "Debrief offered"),
    ("debrief_held", "Debrief held"),
    ("spoke_with_patient", "Spoke with the patient"),
    ("expectations_in_writing", "Expectations set in writing"),
    ("care_transferred", "Care transferred to a colleague"),
    ("security_informed", "Security informed"),
    ("police_informed", "Police informed"),
    ("referred_onwards", "Referred to a manager or the behaviour committee"),
    ("flag_recommended", "Behavioural flag on the patient record recommended"),
]


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
            return self.filter(
                Q(reporter=user) | Q(unit_id__in=Unit.objects.ids_supervised_by(user))
            )
        if user.role == Role.REPORTER:
            return self.filter(reporter=user)
        return self.none()

    def reviewable_by(self, user: User, *, unit_ids: list[int] | None = None) -> IncidentQuerySet:
        """The incidents a person reviews: those of the units they supervise
        (``unit_ids``, when the caller has them already), except their own. Whatever
        their role, the person who filed an incident sees it as its reporter: the
        internal notes and the review history are never shown to the reporter, and
        nobody closes their own report."""
        if unit_ids is None:
            unit_ids = Unit.objects.ids_supervised_by(user)
        return self.of_units(unit_ids).exclude(reporter=user)

    def of_units(self, unit_ids: list[int]) -> IncidentQuerySet:
        """The incidents of these units (``Unit.objects.ids_supervised_by``)."""
        return self.filter(unit_id__in=unit_ids)

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
    # When a supervisor first took it up (moved it out of "submitted").
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    feedback = models.TextField(
        max_length=DESCRIPTION_MAX_LENGTH, blank=True, help_text="Shown to the reporter."
    )
    feedback_at = models.DateTimeField(null=True, blank=True)
    # Who wrote the feedback the reporter reads (the last reviewer may have only changed
    # the status).
    feedback_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    internal_note = models.TextField(
        max_length=DESCRIPTION_MAX_LENGTH,
        blank=True,
        help_text="For supervisors and managers only; never shown to the reporter.",
    )
    # What the supervisor did.
    debrief_offered = models.BooleanField(default=False)
    debrief_held = models.BooleanField(default=False)
    spoke_with_patient = models.BooleanField(default=False)
    expectations_in_writing = models.BooleanField(default=False)
    care_transferred = models.BooleanField(default=False)
    security_informed = models.BooleanField(default=False)
    police_informed = models.BooleanField(default=False)
    referred_onwards = models.BooleanField(default=False)
    flag_recommended = models.BooleanField(default=False)
    # Optimistic locking: a review form carries the version it was read at, and a save
    # against a newer version is refused rather than overwriting someone else's.
    version = models.PositiveIntegerField(default=0)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # My incidents, newest first (keyset pagination on occurred_at, id).
            models.Index(fields=["reporter", "-occurred_at", "-id"], name="incident_reporter_idx"),
            # Monthly figures and the patient aggregates behind the alerts; the severity
            # carried along (PostgreSQL) lets the month's repeat patients be counted from
            # the index alone.
            models.Index(
                fields=["occurred_at", "patient"],
                include=["severity"],
                name="incident_when_patient_idx",
            ),
            # The monthly report's median review wait and script usage, counted from
            # this index alone (PostgreSQL). Kept apart from the one above: carrying
            # these in it doubled its size, and PostgreSQL then read the whole table for
            # the month's other figures rather than that month's rows through it. None
            # of these columns changes after filing but reviewed_at, which is set as the
            # status (indexed already) changes, so no update loses HOT for them.
            models.Index(
                fields=["occurred_at"],
                include=["reviewed_at", "submitted_at", "script_version", "person_response"],
                name="incident_month_figures_idx",
            ),
            models.Index(fields=["unit", "-occurred_at", "-id"], name="incident_unit_when_idx"),
            models.Index(fields=["patient", "-occurred_at"], name="incident_patient_when_idx"),
            models.Index(
                fields=["unit", "status", "review_due_at"], name="incident_review_queue_idx"
            ),
            # Open incidents across every unit (a manager's queue, the report's open
            # items), in queue order; small, because most incidents are closed.
            models.Index(
                fields=["status", "review_due_at", "id"],
                condition=Q(status__in=["submitted", "under_review"]),
                name="incident_open_idx",
            ),
            # The queue's "closed" tab, most recently closed first.
            models.Index(
                fields=["-closed_at", "-id"],
                condition=Q(status="closed"),
                name="incident_closed_idx",
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
            # The review's lifecycle (services.review_incident): closing sets the closing
            # time and reopening clears it; taking an incident up records who and when,
            # and nothing moves it back to "submitted"; feedback names its author, and
            # cleared feedback names nobody (its time stays: when it was cleared).
            models.CheckConstraint(
                condition=Q(status=Status.CLOSED, closed_at__isnull=False)
                | (~Q(status=Status.CLOSED) & Q(closed_at__isnull=True)),
                name="incident_closed_when_closed_at",
            ),
            models.CheckConstraint(
                condition=Q(status=Status.SUBMITTED)
                | Q(reviewed_at__isnull=False, reviewed_by__isnull=False),
                name="incident_reviewed_unless_submitted",
            ),
            models.CheckConstraint(
                condition=Q(feedback="", feedback_by__isnull=True)
                | (~Q(feedback="") & Q(feedback_by__isnull=False, feedback_at__isnull=False)),
                name="incident_feedback_has_author",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.pk])

    @property
    def reference(self) -> str:
        """The reference people quote on the phone, e.g. BND-2026-00123: the year of
        filing on the local clock and the row's number, so it never needs a counter of
        its own."""
        year = (
            timezone.localtime(self.submitted_at, timezone.get_default_timezone()).year
            if self.submitted_at
            else ""
        )
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

    @property
    def review_actions(self) -> list[str]:
        return [label for name, label in REVIEW_ACTIONS if getattr(self, name)]

    def is_overdue(self, now: datetime | None = None) -> bool:
        return self.status == Status.SUBMITTED and self.review_due_at < (now or timezone.now())


class Witness(models.Model):
    """Someone who saw or heard it. A patient is never named (no patient names are
    kept anywhere): where they were, in ``contact``, is enough to find them again."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="witnesses")
    name = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=10, choices=WitnessRole.choices)
    contact = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "witnesses"
        constraints = [
            models.CheckConstraint(
                condition=Q(role=WitnessRole.PATIENT, name="")
                | (~Q(role=WitnessRole.PATIENT) & ~Q(name="")),
                name="witness_named_unless_patient",
            )
        ]

    def __str__(self) -> str:
        return self.described

    @property
    def described(self) -> str:
        """ "Dee Rosevear (staff), ext 4321", or "A patient, Bay 4"."""
        who = (
            "A patient"
            if self.role == WitnessRole.PATIENT
            else (f"{self.name} ({self.get_role_display().lower()})")
        )
        return f"{who}, {self.contact}" if self.contact else who


class Addendum(models.Model):
    """Something the reporter adds after filing. Never edited, never deleted."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="addenda")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(max_length=DESCRIPTION_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    # The form's one-use token: a double click or a resent form adds it once. (None for
    # addenda from before the token.)
    submission_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

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
    # The page (a tab or window showing the form) that saved it last: a page drawn
    # before another page saved it must not overwrite that page's work unseen.
    written_by_page = models.CharField(max_length=32, blank=True, default="", db_default="")
    # One more at every save: a page remembers the revision it was drawn from.
    revision = models.PositiveIntegerField(default=0, db_default=0)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="draft_owner_idx")]

    def __str__(self) -> str:
        return f"Draft {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:draft", args=[self.pk])

    def changed_elsewhere(self, page: str, revision: int | None, before: str = "") -> bool:
        """Whether another page saved it since ``page`` was drawn from ``revision``. The
        page's own saves, and a late save of ``before`` (the page this one replaced in
        the same tab, sent as it went), are not another page's. A request naming no page
        is not checked."""
        if not page or self.written_by_page in {page, before} - {""}:
            return False
        return revision is None or self.revision != revision


class IncidentEvent(models.Model):
    """The incident's history as supervisors see it: every status change and review."""

    class Kind(models.TextChoices):
        FILED = "filed", "Filed"
        STATUS_CHANGED = "status_changed", "Status changed"
        REVIEWED = "reviewed", "Review updated"
        FEEDBACK = "feedback", "Feedback given"
        REOPENED = "reopened", "Reopened"
        ADDENDUM = "addendum", "Addendum added"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    # Which fields a review changed (names only). The note: a reopening's reason, or the
    # feedback as given (kept when it is changed: the reporter was told the first words).
    changed_fields = models.JSONField(default=list, blank=True)
    note = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "created_at"], name="incident_event_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.incident_id}"


class AlertRule(models.TextChoices):
    REPEAT_PATIENT = "repeat_patient", "Same patient, repeated incidents"
    SEVERAL_STAFF = "several_staff", "Same patient, several staff"
    HIGH_SEVERITY = "high_severity", "High-severity incident"
    ESCALATION = "escalation", "Escalating behaviour"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class AlertThresholds(models.Model):
    """The pattern rules' thresholds, which managers can change. One row (pk=1)."""

    repeat_count = models.PositiveSmallIntegerField(
        default=3, help_text="Incidents about the same patient that raise an alert."
    )
    repeat_days = models.PositiveSmallIntegerField(default=90, help_text="…within this many days.")
    staff_count = models.PositiveSmallIntegerField(
        default=2, help_text="Different staff reporting the same patient that raise an alert."
    )
    staff_days = models.PositiveSmallIntegerField(default=30, help_text="…within this many days.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        verbose_name_plural = "alert thresholds"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="alert_thresholds_single_row"),
            models.CheckConstraint(
                condition=Q(
                    repeat_count__gte=2, staff_count__gte=2, repeat_days__gte=1, staff_days__gte=1
                ),
                name="alert_thresholds_sensible",
                violation_error_message="Counts start at 2 and periods at 1 day.",
            ),
        ]

    def __str__(self) -> str:
        return "Alert thresholds"

    @classmethod
    def current(cls) -> AlertThresholds:
        thresholds, _ = cls.objects.get_or_create(pk=1)
        return thresholds


class AlertQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> AlertQuerySet:
        """Managers see every alert; supervisors those involving their units."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.role == Role.MANAGER:
            return self
        if user.role == Role.SUPERVISOR:
            return self.involving_units(Unit.objects.ids_supervised_by(user))
        return self.none()

    def involving_units(self, unit_ids: list[int]) -> AlertQuerySet:
        """Alerts with an incident in one of these units (``ids_supervised_by``)."""
        links = AlertIncident.objects.filter(alert=models.OuterRef("pk"), unit_id__in=unit_ids)
        return self.filter(models.Exists(links))

    def unresolved(self) -> AlertQuerySet:
        return self.exclude(status=AlertStatus.RESOLVED)


class Alert(models.Model):
    """A pattern a supervisor must look at, raised by the rules in incidents.alerts.

    It explains itself: the rule, the incidents behind it, how many and over what span.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rule = models.CharField(max_length=20, choices=AlertRule.choices)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="alerts", null=True, blank=True
    )
    # What makes two alerts "the same pattern": never two unresolved alerts share a key.
    pattern_key = models.CharField(max_length=80)
    status = models.CharField(max_length=14, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    last_matched_at = models.DateTimeField(default=timezone.now)
    incident_count = models.PositiveIntegerField(default=0)
    staff_count = models.PositiveIntegerField(default=0)
    span_start = models.DateTimeField(null=True, blank=True)
    span_end = models.DateTimeField(null=True, blank=True)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.LOW)
    incidents = models.ManyToManyField(Incident, through="AlertIncident", related_name="alerts")

    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(max_length=2000, blank=True)
    acknowledgement_action = models.CharField(max_length=200, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(max_length=2000, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-last_matched_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-last_matched_at", "-id"], name="alert_status_idx"),
            # The alert list's default view (open and acknowledged), newest match first.
            models.Index(
                fields=["-last_matched_at", "-id"],
                condition=~Q(status="resolved"),
                name="alert_unresolved_idx",
            ),
            models.Index(fields=["patient", "rule"], name="alert_patient_rule_idx"),
            models.Index(fields=["opened_at"], name="alert_opened_idx"),
            models.Index(fields=["resolved_at"], name="alert_resolved_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["pattern_key"],
                condition=~Q(status="resolved"),
                name="alert_one_unresolved_per_pattern",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AlertStatus.values), name="alert_status_valid"
            ),
            # The lifecycle (services.acknowledge_alert and resolve_alert). A resolved
            # alert is never reopened: a new match raises a new alert. An acknowledged
            # alert that a new incident opens again keeps who acknowledged it and when,
            # so an open alert may carry an acknowledgement.
            models.CheckConstraint(
                condition=Q(
                    status=AlertStatus.RESOLVED,
                    resolved_at__isnull=False,
                    resolved_by__isnull=False,
                )
                | (
                    ~Q(status=AlertStatus.RESOLVED)
                    & Q(resolved_at__isnull=True, resolved_by__isnull=True)
                ),
                name="alert_resolved_when_resolved_at",
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False)
                | (
                    ~Q(status=AlertStatus.ACKNOWLEDGED)
                    & Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                ),
                name="alert_acknowledged_who_and_when",
            ),
            # The figures are counted from the alert's incidents (alerts._refresh_summaries):
            # a span from the earliest to the latest, no more staff than incidents.
            models.CheckConstraint(
                condition=Q(span_start__isnull=True, span_end__isnull=True)
                | Q(
                    span_start__isnull=False, span_end__isnull=False, span_start__lte=F("span_end")
                ),
                name="alert_span_in_order",
            ),
            models.CheckConstraint(
                condition=Q(staff_count__lte=F("incident_count")),
                name="alert_staff_within_incidents",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("incidents:alert_detail", args=[self.public_id])


class AlertIncidentQuerySet(models.QuerySet):
    def latest_id(self) -> int:
        """The id of the newest link (0 for none). An alert's links are added under its
        row lock, so a link added later always has a greater id than those before it."""
        return self.aggregate(latest=models.Max("pk"))["latest"] or 0

    def added_after(self, link_id: int) -> AlertIncidentQuerySet:
        return self.filter(pk__gt=link_id)


class AlertIncident(models.Model):
    """An incident behind an alert, with its unit copied for fast scoping."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="links")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alert_links")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    objects = AlertIncidentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "incident"], name="alert_incident_unique")
        ]
        indexes = [models.Index(fields=["unit", "alert"], name="alert_incident_unit_idx")]

    def __str__(self) -> str:
        return f"Incident {self.incident_id} in alert {self.alert_id}"


class QueuedEmailQuerySet(models.QuerySet):
    def to_deliver(self, *, now: datetime) -> QueuedEmailQuerySet:
        """Not sent yet, not given up on, and not being handed over elsewhere right now
        (a hand-over older than ``QueuedEmail.HAND_OVER_LIMIT`` was cut short)."""
        return self.filter(
            Q(sending_since__isnull=True) | Q(sending_since__lt=now - QueuedEmail.HAND_OVER_LIMIT),
            sent_at__isnull=True,
            attempts__lt=QueuedEmail.MAX_ATTEMPTS,
        )

    def sent(self) -> QueuedEmailQuerySet:
        return self.filter(sent_at__isnull=False)

    def waiting(self) -> QueuedEmailQuerySet:
        """Not sent yet, and still tried at each run of the cron command."""
        return self.filter(sent_at__isnull=True, attempts__lt=QueuedEmail.MAX_ATTEMPTS)

    def given_up(self) -> QueuedEmailQuerySet:
        """Not sent after ``QueuedEmail.MAX_ATTEMPTS`` tries: nothing tries them again."""
        return self.filter(sent_at__isnull=True, attempts__gte=QueuedEmail.MAX_ATTEMPTS)

    def done_before(self, cutoff: datetime) -> QueuedEmailQuerySet:
        """Sent before ``cutoff``, or given up on and written before it."""
        return self.filter(
            Q(sent_at__lt=cutoff)
            | Q(
                sent_at__isnull=True,
                attempts__gte=QueuedEmail.MAX_ATTEMPTS,
                created_at__lt=cutoff,
            )
        )


class QueuedEmail(models.Model):
    """An email the app sends (news of an incident, an alert or feedback), written in
    the transaction of the change it tells of, and handed to the mail server after the
    commit; what the server did not take is retried by ``send_incident_digests``. The
    text is what was sent: a link and a reference, never a patient reference. It goes
    to ``recipient`` at their address as it is when it is sent (``recipients`` keeps
    the address last tried), and to nobody once they are no longer active."""

    # Tried by the request, then by every run of the cron command (hourly: two days).
    MAX_ATTEMPTS = 48
    # Longer than any SMTP hand-over waits (the connection's timeout is 10 s).
    HAND_OVER_LIMIT = timedelta(minutes=10)

    recipients = models.JSONField(default=list)
    # The person it is for, whose address it goes to at each attempt. None: written
    # before emails named people (migration 0016), or by an app server not yet upgraded;
    # such an email goes to ``recipients`` as written. Removing a person removes the
    # emails waiting for them (the outbox is a copy kept for 30 days; people are
    # deactivated anyway).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    subject = models.CharField(max_length=255)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    objects = QueuedEmailQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="queued_email_unsent_idx",
            ),
            models.Index(fields=["sent_at"], name="queued_email_sent_idx"),
        ]

    def __str__(self) -> str:
        # Not the subject, which names an incident: the admin site lists emails by this.
        return f"Email {self.pk}"

    @property
    def written_to(self) -> list[str]:
        """The addresses it was written to (``recipients``), ignoring anything in that
        JSON that is not an address."""
        if not isinstance(self.recipients, list):
            return []
        return [address for address in self.recipients if isinstance(address, str) and address]
