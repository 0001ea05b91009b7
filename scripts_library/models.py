"""The script library: approved words for declining a boundary-crossing request.

A script is a slot in the library (a stable key) and its versions are the wordings
proposed for it over time. Each version carries the words and where they are offered
(category, stage, situations, channels); approving a version copies that placement onto
the script, so reporters only ever see what an approver has accepted.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, models
from django.db.models import Case, Exists, F, Func, OuterRef, Q, Value, When
from django.urls import reverse

from scripts_library.permissions import may_manage

if TYPE_CHECKING:
    from boundaries.models import User
    from incidents.models import Channel, RequestType

SCRIPT_TEXT_MAX_LENGTH = 600
# The longest search a person can type; longer input is cut, never an error.
SEARCH_MAX_LENGTH = 100


def fold(text: str) -> str:
    """``text`` as search compares it: without accents, in lower case ("Café" and
    "CAFE" read "cafe"), as nurses type on phones."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


SEARCH_MAX_WORDS = 8


class Stage(models.TextChoices):
    """Where a script sits on the escalation ladder."""

    FIRST = "first", "First response"
    AGAIN = "again", "If they ask again"
    ESCALATES = "escalates", "If it escalates"


# The ladder, top to bottom.
LADDER = (Stage.FIRST, Stage.AGAIN, Stage.ESCALATES)


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

    def get_absolute_url(self) -> str:
        return reverse("scripts_library:category", args=[self.code])


class ScriptStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class ScriptQuerySet(models.QuerySet):
    def offered(self) -> ScriptQuerySet:
        """Scripts reporters may use: approved, with an approved version to say."""
        return self.filter(
            status=ScriptStatus.APPROVED,
            current_version__isnull=False,
            current_version__state=VersionState.APPROVED,
        )

    def manageable_by(self, user: User) -> ScriptQuerySet:
        """Every script, drafts and retired ones included, for people who may draft or
        decide."""
        return self if may_manage(user) else self.none()

    def for_request_type(self, request_type: RequestType | str) -> ScriptQuerySet:
        """Scripts for a situation, given as a RequestType or its code."""
        if isinstance(request_type, str):
            return self.filter(request_types__code=request_type)
        return self.filter(request_types=request_type)

    def for_channel(self, channel: Channel | None) -> ScriptQuerySet:
        """Scripts that fit a channel: those naming it and those that fit any channel."""
        if channel is None:
            return self
        links = Script.channels.through.objects.filter(script=OuterRef("pk"))
        return self.filter(Exists(links.filter(channel=channel)) | ~Exists(links))

    def sharing_a_situation_with(self, script: Script) -> ScriptQuerySet:
        """Other scripts offered for any of the script's situations: its ladder."""
        links = Script.request_types.through.objects
        situations = links.filter(script=script).values("requesttype")
        return self.filter(
            pk__in=links.filter(requesttype__in=situations).values("script")
        ).exclude(pk=script.pk)

    def in_category(self, category: Category) -> ScriptQuerySet:
        return self.filter(category=category)

    def in_ladder_order(self) -> ScriptQuerySet:
        """First responses, then what to say if they ask again, then escalation."""
        step = Case(
            *(When(stage=stage, then=Value(position)) for position, stage in enumerate(LADDER)),
            default=Value(len(LADDER)),
            output_field=models.IntegerField(),
        )
        return self.alias(ladder_step=step).order_by("ladder_step", "category__position", "pk")

    def search(self, query: str) -> ScriptQuerySet:
        """Scripts whose current words, title or guidance match ``query``.

        PostgreSQL: full-text search (stemmed, so "asking" finds "asks"), best match
        first. Elsewhere (SQLite): every word of the query must appear somewhere.
        """
        words = query[:SEARCH_MAX_LENGTH].split()[:SEARCH_MAX_WORDS]
        if not words:
            return self.none()
        if connection.vendor == "postgresql":
            # Both sides folded by unaccent(), so they agree on every letter.
            return self._full_text_search(" ".join(words))
        words = [fold(word) for word in words]
        # SQLite folds the case of ASCII letters only, and no accents: the words are
        # compared folded here, over the scripts in question (the library, not incidents).
        rows = self.values_list(
            "pk", "current_version__title", "current_version__text", "current_version__guidance"
        )
        found = [
            pk
            for pk, *texts in rows
            if all(word in fold(" ".join(filter(None, texts))) for word in words)
        ]
        return self.filter(pk__in=found)

    def _full_text_search(self, query: str) -> ScriptQuerySet:
        # Imported here: the module needs psycopg, and the app is not in INSTALLED_APPS.
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        def unaccented(field: str) -> Func:
            # The unaccent extension (migration 0009), for the query too.
            return Func(F(field), function="unaccent")

        vector = (
            SearchVector(unaccented("current_version__title"), weight="A", config="english")
            + SearchVector(unaccented("current_version__text"), weight="B", config="english")
            + SearchVector(unaccented("current_version__guidance"), weight="C", config="english")
        )
        search_query = SearchQuery(
            Func(Value(query), function="unaccent"), search_type="websearch", config="english"
        )
        return (
            self.annotate(search=vector)
            .filter(search=search_query)
            .annotate(rank=SearchRank(vector, search_query))
            .order_by("-rank", "pk")
        )


class Script(models.Model):
    """A script's identity and where it is offered. Its words live in versions."""

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
    # The approved version reporters are offered (once retired: the last one offered).
    current_version = models.OneToOneField(
        "ScriptVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The "new script" form's one-use token: sent twice, it makes one script. (None for
    # the starting library and scripts from before the token.)
    submission_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)

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
            models.CheckConstraint(
                condition=Q(status__in=ScriptStatus.values), name="script_status_valid"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="script_stage_valid"),
        ]

    def __str__(self) -> str:
        if self.current_version_id:
            return self.current_version.title
        return self.key

    def get_absolute_url(self) -> str:
        return reverse("scripts_library:detail", args=[self.pk])

    @property
    def is_offered(self) -> bool:
        return self.status == ScriptStatus.APPROVED and self.current_version_id is not None


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Awaiting approval"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Replaced by a later version"
    REJECTED = "rejected", "Sent back"
    RETIRED = "retired", "Retired"


PENDING_STATES = (VersionState.DRAFT, VersionState.PROPOSED)


class ScriptVersionQuerySet(models.QuerySet):
    def offered(self) -> ScriptVersionQuerySet:
        """The versions reporters may choose: each offered script's approved wording."""
        return self.filter(state=VersionState.APPROVED, script__status=ScriptStatus.APPROVED)

    def sayable(self) -> ScriptVersionQuerySet:
        """The versions an incident may record as said: the offered ones, and those a
        newer wording of a script still in use replaced. A reporter who chose the words
        on screen before the new wording was approved (or in a draft) said those words,
        and they were approved when said; retired and unapproved words are not."""
        return self.filter(
            state__in=[VersionState.APPROVED, VersionState.SUPERSEDED],
            script__status=ScriptStatus.APPROVED,
        )

    def pending(self) -> ScriptVersionQuerySet:
        """Drafts and proposals: words not yet decided on."""
        return self.filter(state__in=PENDING_STATES)

    def sent_back(self) -> ScriptVersionQuerySet:
        """Versions sent back with a note and not yet followed by a newer version, for
        scripts still in use or in preparation."""
        newer = ScriptVersion.objects.filter(
            script=OuterRef("script"), number__gt=OuterRef("number")
        )
        return self.filter(state=VersionState.REJECTED).exclude(
            Q(script__status=ScriptStatus.RETIRED) | Exists(newer)
        )

    def manageable_by(self, user: User) -> ScriptVersionQuerySet:
        return self if may_manage(user) else self.none()


class ScriptVersion(models.Model):
    """One wording of a script, and where it is to be offered. Approved versions are
    never edited: incidents point at the version whose words were used."""

    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=120)
    text = models.TextField(
        max_length=SCRIPT_TEXT_MAX_LENGTH, help_text="The words to say: one or two sentences."
    )
    guidance = models.TextField(
        max_length=2000, blank=True, help_text="For staff: when to use it, what to do next."
    )
    # Where the version is to be offered; copied onto the script when it is approved.
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="versions")
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.FIRST)
    request_types = models.ManyToManyField(
        "incidents.RequestType", related_name="script_versions", blank=True
    )
    channels = models.ManyToManyField(
        "incidents.Channel", related_name="script_versions", blank=True
    )
    state = models.CharField(
        max_length=12, choices=VersionState.choices, default=VersionState.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Everyone who saved these words while they were pending, the author included: none
    # of them may approve them (the author is only the last of them).
    writers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="script_versions_written", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    proposed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(max_length=1000, blank=True)

    objects = ScriptVersionQuerySet.as_manager()

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
            models.CheckConstraint(
                condition=Q(state__in=VersionState.values), name="script_version_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="script_version_stage_valid"
            ),
            # Words a person wrote reach reporters only through another person's decision;
            # only the organisation's starting library (no author) comes pre-approved.
            models.CheckConstraint(
                condition=~Q(state__in=["approved", "superseded", "retired"])
                | Q(author__isnull=True)
                | Q(decided_by__isnull=False),
                name="script_version_approval_recorded",
                violation_error_message="An approved version records who approved it.",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["approved", "superseded", "retired", "rejected"])
                | Q(decided_at__isnull=False),
                name="script_version_decision_dated",
            ),
            models.CheckConstraint(
                condition=~Q(state="proposed") | Q(proposed_at__isnull=False),
                name="script_version_proposal_dated",
            ),
            models.CheckConstraint(
                condition=~Q(state="rejected")
                | (Q(decided_by__isnull=False) & ~Q(decision_note="")),
                name="script_version_rejection_explained",
                violation_error_message="Say why the version was sent back.",
            ),
            # Words still pending carry no decision (a decision moves them out of
            # pending, and words sent back are taken up as a new version), and a draft
            # is not proposed (services.edit_script clears the proposal's time).
            models.CheckConstraint(
                condition=~Q(state__in=["draft", "proposed"])
                | Q(decided_by__isnull=True, decided_at__isnull=True, decision_note=""),
                name="script_version_pending_undecided",
            ),
            models.CheckConstraint(
                condition=~Q(state="draft") | Q(proposed_at__isnull=True),
                name="script_version_draft_not_proposed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.number})"

    def get_absolute_url(self) -> str:
        return reverse("scripts_library:manage_detail", args=[self.script_id])

    @property
    def is_pending(self) -> bool:
        return self.state in PENDING_STATES


class ScriptUse(models.Model):
    """How often a script's words were used in one unit's incidents, and how the person
    responded: a running count kept by filing and by the retention purge, each in its own
    transaction (``services.count_uses``), so that the library's overview reads a few
    rows however many incidents were ever filed. ``services.recount_uses`` rebuilds the
    counts from the incidents (after a bulk load, or to check them)."""

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="uses")
    unit = models.ForeignKey("boundaries.Unit", on_delete=models.CASCADE, related_name="+")
    used = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    asked_again = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["script", "unit"], name="script_use_once_per_unit"),
            models.CheckConstraint(
                condition=Q(used=F("accepted") + F("asked_again") + F("escalated")),
                name="script_use_responses_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.script} in {self.unit}: used {self.used} times"
