"""Factories with invented data only: no real names, numbers or places."""

from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from boundaries.models import JobTitle, Membership, Role, Unit, User
from incidents.models import (
    Alert,
    AlertIncident,
    AlertRule,
    Channel,
    Incident,
    OtherParty,
    Patient,
    PersonResponse,
    QueuedEmail,
    RequestType,
    Severity,
    Status,
    Witness,
)

TEST_PASSWORD = "correct-horse-battery-staple"


class UnitFactory(DjangoModelFactory):
    class Meta:
        model = Unit
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"UNIT-{n}")
    name = factory.Sequence(lambda n: f"Test Ward {n}")
    kind = Unit.Kind.WARD


class UserFactory(DjangoModelFactory):
    """A person; pass ``units=[...]`` to place them (the first is their main unit)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = factory.Iterator(["Ari", "Bo", "Cai", "Dee", "Eli", "Fen"])
    last_name = factory.Iterator(["Tremayne", "Polwarth", "Rosevear", "Nancarrow"])
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    role = Role.REPORTER
    job_title = JobTitle.NURSE
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def units(self, create, extracted, **kwargs):
        if create and extracted:
            for position, unit in enumerate(extracted):
                Membership.objects.create(user=self, unit=unit, is_primary=position == 0)


# --- Incidents -------------------------------------------------------------------------


def request_type(code: str = "personal-contact") -> RequestType:
    """The seeded taxonomy (incidents migration 0003) is always present."""
    return RequestType.objects.get(code=code)


def channel(code: str = "in-person") -> Channel:
    return Channel.objects.get(code=code)


class PatientFactory(DjangoModelFactory):
    class Meta:
        model = Patient
        django_get_or_create = ("reference",)

    # Invented ten-digit references from a range no NHS number uses (999...).
    reference = factory.Sequence(lambda n: f"999{n:07d}")


class IncidentFactory(DjangoModelFactory):
    """A filed incident. Pass ``reporter`` (whose main unit it takes) or ``unit``."""

    class Meta:
        model = Incident
        skip_postgeneration_save = True

    reporter = factory.SubFactory(UserFactory)
    unit = factory.LazyAttribute(lambda o: o.reporter.units.first() or UnitFactory())
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    location = "Bay 3"
    other_party = OtherParty.PATIENT
    patient = factory.SubFactory(PatientFactory)
    request_type = factory.LazyFunction(request_type)
    channel = factory.LazyFunction(channel)
    description = "Asked twice for my mobile number while I changed a dressing."
    words_used = "I'm sorry, I can't give out my personal number."
    person_response = PersonResponse.ACCEPTED
    severity = Severity.LOW
    submission_token = factory.LazyFunction(uuid.uuid4)
    submitted_at = factory.LazyFunction(timezone.now)
    status = Status.SUBMITTED
    review_due_at = factory.LazyAttribute(lambda o: o.submitted_at + timedelta(days=3))
    # What the review would have recorded, as the database requires (Incident.Meta):
    # taken up (or given feedback) by a supervisor, closed when closed, feedback with
    # its author. Pass any of them to say otherwise.
    reviewed_at = factory.LazyAttribute(
        lambda o: None if o.status == Status.SUBMITTED else o.submitted_at
    )
    reviewed_by = factory.Maybe(
        factory.LazyAttribute(lambda o: o.status != Status.SUBMITTED or bool(o.feedback)),
        yes_declaration=factory.SubFactory(
            "tests.factories.UserFactory",
            username=factory.Sequence(lambda n: f"reviewer{n}"),
            role=Role.SUPERVISOR,
        ),
        no_declaration=None,
    )
    closed_at = factory.LazyAttribute(
        lambda o: o.reviewed_at if o.status == Status.CLOSED else None
    )
    feedback = ""
    feedback_at = factory.LazyAttribute(
        lambda o: (o.reviewed_at or o.submitted_at) if o.feedback else None
    )
    feedback_by = factory.LazyAttribute(lambda o: o.reviewed_by if o.feedback else None)

    @factory.post_generation
    def counted(incident, create, extracted, **kwargs):
        """As filing does: a script's use joins the library's running counts."""
        if create and incident.script_version_id is not None:
            from scripts_library.services import count_use

            count_use(
                script_id=incident.script_version.script_id,
                unit_id=incident.unit_id,
                response=incident.person_response,
            )


class WitnessFactory(DjangoModelFactory):
    class Meta:
        model = Witness

    incident = factory.SubFactory(IncidentFactory)
    name = "Dee Rosevear"
    role = "staff"


class QueuedEmailFactory(DjangoModelFactory):
    """An email in the outbox, to a person of its own; ``recipient__email=...`` sets
    their address."""

    class Meta:
        model = QueuedEmail

    recipient = factory.SubFactory(UserFactory)
    recipients = factory.LazyAttribute(lambda email: [email.recipient.email])
    subject = factory.Sequence(lambda n: f"Boundaries: email {n}")
    body = "A link."


# --- Script library ----------------------------------------------------------------------
# Models named by label and imported inside functions, so that this section needs nothing
# from the imports at the top of the file beyond what is already there.


def script_category(code: str = "policy"):
    """The nine categories (scripts_library migration 0002) are always present."""
    from scripts_library.models import Category

    return Category.objects.get(code=code)


class ScriptFactory(DjangoModelFactory):
    """An approved script with its first version, as the starting library adds them.

    The words go through ``version__``: ``ScriptFactory(version__text="...")``; pass
    ``version__state="draft"`` for a script never approved. Situations and channels are
    codes: ``ScriptFactory(request_types=["gifts"], channels=["unit-phone"])``."""

    class Meta:
        model = "scripts_library.Script"
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"test-script-{n}")
    category = factory.LazyFunction(script_category)
    stage = "first"

    @factory.post_generation
    def request_types(self, create, extracted, **kwargs):
        if create:
            codes = extracted if extracted is not None else ["personal-contact"]
            self.request_types.set(RequestType.objects.filter(code__in=codes))

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if create and extracted:
            self.channels.set(Channel.objects.filter(code__in=extracted))

    @factory.post_generation
    def version(self, create, extracted, **kwargs):
        from scripts_library.models import ScriptVersion

        if not create:
            return
        state = kwargs.get("state", "approved")
        version = ScriptVersion.objects.create(
            script=self,
            number=1,
            title=kwargs.get("title", f"Words number {self.pk}"),
            text=kwargs.get("text", "I'm sorry, I can't share my personal details."),
            guidance=kwargs.get("guidance", "Say it kindly, then go back to their care."),
            category=self.category,
            stage=self.stage,
            state=state,
            # Approved well before the incidents tests file with it (words approved after
            # an incident cannot be what was said then).
            decided_at=timezone.now() - timedelta(days=365) if state == "approved" else None,
        )
        version.request_types.set(self.request_types.all())
        version.channels.set(self.channels.all())
        if state == "approved":
            self.current_version, self.status = version, "approved"
            self.save(update_fields=["current_version", "status"])


def nhs_number(seed: int) -> str:
    """A valid, invented NHS number (correct check digit) for test filings."""
    from incidents.patient_refs import nhs_number_is_valid

    base = 400_000_000 + seed * 7
    while True:
        for last in range(10):
            candidate = f"{base:09d}{last}"
            if nhs_number_is_valid(candidate):
                return candidate
        base += 1


def repeat_alert_on(incident: Incident) -> Alert:
    """A repeat-patient alert resting on ``incident`` alone, reaching its unit (made
    directly, whatever the thresholds)."""
    alert = Alert.objects.create(
        rule=AlertRule.REPEAT_PATIENT,
        patient=incident.patient,
        pattern_key=f"repeat_patient:patient:{incident.patient_id}",
        incident_count=1,
        staff_count=1,
        span_start=incident.occurred_at,
        span_end=incident.occurred_at,
    )
    AlertIncident.objects.create(alert=alert, incident=incident, unit=incident.unit)
    return alert


def log_incident(reporter: User, **fields) -> tuple[Incident, bool]:
    """File through ``incidents.services.log_incident``, as the form does, with plain
    values for what the test leaves out: a new token, the reporter's main unit, an hour
    ago, no patient, their own words, no email."""
    from incidents import services

    values = {
        "token": uuid.uuid4(),
        "unit": reporter.memberships.get(is_primary=True).unit,
        "occurred_at": timezone.now() - timedelta(hours=1),
        "location": "Bay 1",
        "other_party": "patient",
        "patient_reference": "",
        "request_type": request_type(),
        "channel": channel(),
        "description": "Asked for my number.",
        "script_version": None,
        "own_words": "No.",
        "person_response": "accepted",
        "notify": False,
    }
    return services.log_incident(reporter=reporter, **{**values, **fields})
