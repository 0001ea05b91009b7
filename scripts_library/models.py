"""The script library: approved words for declining a boundary-crossing request."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

SCRIPT_TEXT_MAX_LENGTH = 600


class Stage(models.TextChoices):
    """Where a script sits on the escalation ladder."""

    FIRST = "first", "First response"
    AGAIN = "again", "If they ask again"
    ESCALATES = "escalates", "If it escalates"


class Category(models.Model):
    """An approach to declining (policy-based, redirect to care, ...). Data, not code."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100, unique=True)
    summary = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class ScriptStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class ScriptQuerySet(models.QuerySet):
    def offered(self) -> ScriptQuerySet:
        """Scripts reporters may use: approved, with an approved version to say."""
        return self.filter(status=ScriptStatus.APPROVED, current_version__isnull=False)


class Script(models.Model):
    """A script's identity and where it fits. Its words live in versions."""

    key = models.SlugField(
        max_length=80, unique=True, help_text="A stable name, used when loading the library."
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="scripts")
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.FIRST)
    request_types = models.ManyToManyField(
        "incidents.RequestType", related_name="scripts", blank=True
    )
    channels = models.ManyToManyField(
        "incidents.Channel",
        related_name="scripts",
        blank=True,
        help_text="Leave empty if the script fits any channel.",
    )
    status = models.CharField(
        max_length=10, choices=ScriptStatus.choices, default=ScriptStatus.DRAFT
    )
    # The approved version reporters are offered.
    current_version = models.OneToOneField(
        "ScriptVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScriptQuerySet.as_manager()

    class Meta:
        ordering = ["category__position", "key"]
        permissions = [
            ("draft_script", "Can draft and propose scripts"),
            ("approve_script", "Can approve and retire scripts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(current_version__isnull=False),
                name="script_approved_has_version",
            ),
        ]

    def __str__(self) -> str:
        if self.current_version_id:
            return self.current_version.title
        return self.key

    def get_absolute_url(self) -> str:
        return reverse("scripts_library:detail", args=[self.pk])


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Awaiting approval"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Replaced by a later version"
    REJECTED = "rejected", "Sent back"
    RETIRED = "retired", "Retired"


class ScriptVersion(models.Model):
    """One wording of a script. Approved versions are never edited: incidents point at
    the version whose words were used."""

    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=120)
    text = models.TextField(
        max_length=SCRIPT_TEXT_MAX_LENGTH, help_text="The words to say: one or two sentences."
    )
    guidance = models.TextField(
        max_length=2000, blank=True, help_text="For staff: when to use it, what to do next."
    )
    state = models.CharField(
        max_length=12, choices=VersionState.choices, default=VersionState.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    proposed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(max_length=1000, blank=True)

    class Meta:
        ordering = ["script", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["script", "number"], name="script_version_number"),
            models.UniqueConstraint(
                fields=["script"],
                condition=Q(state="approved"),
                name="script_one_approved_version",
            ),
            models.UniqueConstraint(
                fields=["script"],
                condition=Q(state__in=["draft", "proposed"]),
                name="script_one_pending_version",
            ),
            # Nobody approves their own words.
            models.CheckConstraint(
                condition=~Q(state__in=["approved", "superseded"])
                | Q(author__isnull=True)
                | ~Q(decided_by=F("author")),
                name="script_version_not_self_approved",
                violation_error_message="The author of a script cannot approve it.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.number})"
