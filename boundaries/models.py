"""Organisation-wide models: units, staff and their roles."""

from __future__ import annotations

import secrets

import pgtrigger
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    REPORTER = "reporter", "Reporter"
    SUPERVISOR = "supervisor", "Supervisor"
    MANAGER = "manager", "Manager"
    ADMINISTRATOR = "administrator", "Administrator"


class JobTitle(models.TextChoices):
    NURSE = "nurse", "Nurse"
    HEALTHCARE_ASSISTANT = "hca", "Healthcare assistant"
    ALLIED_HEALTH = "ahp", "Allied health professional"
    DOCTOR = "doctor", "Doctor"
    OTHER = "other", "Other"


class UnitQuerySet(models.QuerySet):
    def active(self) -> UnitQuerySet:
        return self.filter(is_active=True)

    def of(self, user: User) -> UnitQuerySet:
        """The units a person works in (where they may file incidents)."""
        return self.active().filter(memberships__user=user)

    def ids_supervised_by(self, user: User) -> list[int]:
        """The ids of ``supervised_by(user)``, fetched once. Filtering a large table by a
        literal list lets PostgreSQL plan for those units' share of the rows; a subquery
        joining memberships hid it, and the alert list scanned 50 times too much."""
        return list(self.supervised_by(user).values_list("pk", flat=True))

    def supervised_by(self, user: User) -> UnitQuerySet:
        """The units whose incidents a person may review: all for managers (closed ones
        too: what was still open when a unit closed still needs a review, and only
        managers are left to give it), their own active units for supervisors, none for
        anyone else."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.role == Role.MANAGER:
            return self.all()
        if user.role == Role.SUPERVISOR:
            return self.of(user)
        return self.none()


class Unit(models.Model):
    class Kind(models.TextChoices):
        WARD = "ward", "Ward"
        CLINIC = "clinic", "Clinic"
        DEPARTMENT = "department", "Department"

    name = models.CharField(max_length=100, unique=True)
    code = models.CharField(
        max_length=12,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z0-9][A-Z0-9-]*$",
                "Use capital letters, digits and hyphens, for example WARD-7.",
                code="invalid_unit_code",
            )
        ],
        help_text="A short code used in reports and file names, for example WARD-7.",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.WARD)
    is_active = models.BooleanField(
        default=True, help_text="Inactive units accept no new incidents but keep their history."
    )

    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z0-9][A-Z0-9-]*$"),
                name="unit_code_format",
                violation_error_message="Use capital letters, digits and hyphens.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class BoundariesUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMINISTRATOR)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A member of staff. No patient is ever a user."""

    email = models.EmailField("email address", help_text="Used for password reset and notices.")
    job_title = models.CharField(max_length=12, choices=JobTitle.choices, default=JobTitle.NURSE)
    role = models.CharField(
        max_length=16,
        choices=Role.choices,
        default=Role.REPORTER,
        help_text=(
            "Reporter: files incidents. Supervisor: reviews the incidents of their units. "
            "Manager: sees every unit and exports reports. Administrator: manages people and "
            "units in the admin site."
        ),
    )
    units = models.ManyToManyField(Unit, through="Membership", related_name="members", blank=True)
    # Part of what every session of this person is checked against (as the password
    # is): a new value ends all their sessions at their next request. Renewed when they
    # are deactivated and when they turn on two-factor sign-in (``end_sessions``).
    session_stamp = models.CharField(
        max_length=32, blank=True, default="", db_default="", editable=False
    )

    objects = BoundariesUserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            # Only administrators reach the admin site.
            models.CheckConstraint(
                condition=Q(is_staff=False) | Q(role="administrator"),
                name="user_staff_are_administrators",
                violation_error_message="Only administrators can have staff status.",
            ),
            models.CheckConstraint(
                condition=Q(is_superuser=False) | Q(role="administrator"),
                name="user_superusers_are_administrators",
                violation_error_message="Only administrators can be superusers.",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs) -> None:
        # Deactivating someone signs them out for good: reactivated, they sign in again
        # (Django only treats an inactive person's sessions as signed out meanwhile).
        if not self.is_active and self.pk is not None:
            self.session_stamp = secrets.token_hex(16)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "session_stamp"}
        super().save(*args, **kwargs)

    def end_sessions(self) -> None:
        """End every session of this person (at its next request). To keep the current
        one, follow with ``django.contrib.auth.update_session_auth_hash``."""
        self.session_stamp = secrets.token_hex(16)
        self.save(update_fields=["session_stamp"])

    def _get_session_auth_hash(self, secret=None) -> str:
        # Django's hash of the password, with the stamp when there is one (so sessions
        # from before the stamp existed stay valid until it first changes).
        if not self.session_stamp:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "boundaries.User.session_auth_hash",
            f"{self.password}:{self.session_stamp}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_administrator(self) -> bool:
        return self.role == Role.ADMINISTRATOR


class Membership(models.Model):
    """A person works in a unit; one of their units is their main one."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="memberships")
    is_primary = models.BooleanField("main unit", default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "unit"],
                name="membership_unique",
                violation_error_message="This person is already in that unit.",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(is_primary=True),
                name="membership_one_primary",
                violation_error_message="A person has only one main unit.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.unit.code}"


class AuditEventQuerySet(models.QuerySet):
    def for_object(self, obj: models.Model) -> AuditEventQuerySet:
        """The trail of one record, oldest first, with the people who acted."""
        return (
            self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
            .select_related("actor")
            .order_by("id")
        )


class AuditEvent(models.Model):
    """One entry in the append-only audit trail (see boundaries.audit).

    Rows are only ever added, by ``audit.record``. On PostgreSQL the database refuses
    UPDATE, DELETE and TRUNCATE on this table; everywhere, each row's ``hash`` covers its
    fields and the ``previous_hash`` of the row before, which ``manage.py verify_audit``
    checks.
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    action = models.CharField(max_length=40)
    # The person who acted; for a failed sign-in, the account that was tried (if any).
    # PROTECT: people are deactivated, never deleted, and the trail is never rewritten.
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_role = models.CharField(max_length=16, blank=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source_address = models.CharField(max_length=45, blank=True)
    outcome = models.CharField(max_length=10, default="success")
    previous_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "id"], name="audit_object_idx"),
        ]
        constraints = [
            # Two events can never follow the same one: the chain cannot fork.
            models.UniqueConstraint(fields=["previous_hash"], name="audit_chain_no_fork"),
            models.UniqueConstraint(fields=["hash"], name="audit_hash_unique"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
            # pgtrigger.Protect only guards TRUNCATE through transition tables, which
            # TRUNCATE has none of: a statement-level BEFORE trigger refuses it outright.
            pgtrigger.Trigger(
                name="audit_no_truncate",
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                operation=pgtrigger.Truncate,
                func="RAISE EXCEPTION 'The audit trail is append-only: % cannot be truncated.', "
                "TG_TABLE_NAME; RETURN NULL;",
            ),
        ]

    def __str__(self) -> str:
        # As the admin site shows the time below it: on the local clock, with the zone
        # telling apart the hour that happens twice when the clocks go back.
        when = f"{timezone.localtime(self.occurred_at):%Y-%m-%d %H:%M:%S %Z}"
        return f"{when} {self.action} {self.object_type} {self.object_id}"

    def get_action_display(self) -> str:
        from boundaries.audit import Action

        try:
            return Action(self.action).label
        except ValueError:
            return self.action

    def get_actor_role_display(self) -> str:
        try:
            return Role(self.actor_role).label
        except ValueError:
            return self.actor_role

    def get_outcome_display(self) -> str:
        from boundaries.audit import Outcome

        try:
            return Outcome(self.outcome).label
        except ValueError:
            return self.outcome
