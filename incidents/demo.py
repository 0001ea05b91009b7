"""Months of invented incidents for the demo: every unit, type and severity, patients
who come back, reviews at every stage. Everything here is made up, including the NHS
numbers (from the 999 range, which the NHS never issues to patients)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from boundaries.models import Role, Unit, User
from incidents import services
from incidents.models import (
    Addendum,
    Alert,
    AlertStatus,
    Channel,
    Incident,
    IncidentEvent,
    OtherParty,
    PersonResponse,
    RequestType,
    Status,
)
from incidents.patient_refs import nhs_number_is_valid
from scripts_library.models import ScriptVersion

# Request type code, weight, channels it usually comes through, what was said or done.
SITUATIONS = [
    (
        "personal-contact",
        30,
        ["in-person", "unit-phone"],
        [
            "Asked for my mobile number so he could text me after discharge.",
            "Wanted my personal email to send photos of her garden.",
            "Kept asking which area I live in and whether I drive past his road.",
        ],
    ),
    (
        "offered-number",
        14,
        ["in-person", "letter-gift"],
        [
            "Pressed a folded note with his number into my hand during the drug round.",
            "Left her number on a card by the nurses' station with my name on it.",
        ],
    ),
    (
        "social-media",
        16,
        ["social-media", "personal-phone"],
        [
            "Her son sent me a friend request the evening after visiting.",
            "Started following me on a photo app and messaged about my holiday.",
            "Found me on a dating app and sent a message about the ward.",
        ],
    ),
    (
        "meet-outside",
        10,
        ["in-person", "unit-phone"],
        [
            "Asked me to meet for a drink once he is discharged.",
            "Invited me to his birthday party and asked for my address for the invitation.",
        ],
    ),
    (
        "gifts",
        9,
        ["in-person", "letter-gift"],
        [
            "Tried to give me a £50 note folded in a thank-you card.",
            "Offered me an expensive perfume set after her discharge.",
        ],
    ),
    (
        "private-services",
        6,
        ["in-person", "email-portal"],
        [
            "Asked if I would nurse her mother privately at home for cash.",
            "Wanted me to babysit at the weekend.",
        ],
    ),
    (
        "post-discharge-contact",
        8,
        ["unit-phone", "personal-phone", "email-portal"],
        [
            "Phoned the ward five times this week asking for me by name.",
            "Sent messages through the patient portal addressed to me personally.",
        ],
    ),
    (
        "romantic",
        7,
        ["in-person", "personal-phone"],
        [
            "Told me he had fallen for me and asked me out to dinner.",
            "Made comments about my appearance and asked if I was single.",
        ],
    ),
    (
        "unwanted-attention",
        8,
        ["in-person", "unit-phone"],
        [
            "Waited by the ward entrance at the end of my shift two days running.",
            "Asked other staff what time I finish and which days I work.",
        ],
    ),
    (
        "harassment",
        5,
        ["in-person", "unit-phone"],
        [
            "Shouted that I would regret refusing and called me names in the corridor.",
            "Left a threatening voicemail on the ward phone mentioning me.",
        ],
    ),
    (
        "stalking",
        3,
        ["in-person", "other"],
        [
            "Was standing by my car in the staff car park when I left.",
            "Mentioned the street I live on, which I have never told him.",
        ],
    ),
    (
        "physical",
        2,
        ["in-person"],
        [
            "Grabbed my wrist and would not let go when I declined.",
        ],
    ),
]

LOCATIONS = [
    "Bay 1",
    "Bay 3",
    "Side room 4",
    "Day room",
    "Nurses' station",
    "Corridor",
    "Staff car park",
    "Reception",
    "Treatment room",
    "Online",
    "Ward phone",
]
FEEDBACK = [
    "Thank you for reporting this so quickly and clearly. You handled it well; "
    "I have spoken to the patient about our policy.",
    "Thanks for logging this. I have set expectations with the family in writing, "
    "and care has been moved to a colleague for the rest of the stay.",
    "Good use of the script. Let me know straight away if it happens again; "
    "we have an alert on this patient now.",
    "Thank you. Security are aware, and I would like to offer you a debrief this week.",
]
WITNESS_NAMES = ["Ari Tremayne", "Bo Polwarth", "Cai Rosevear", "Dee Nancarrow", "Eli Pascoe"]
OWN_WORDS = [
    "I'm sorry, I can't do that. Let's talk about how you're feeling today.",
    "That's kind, but no. The ward number is the way to reach us.",
]


def demo_patient_references(count: int) -> list[str]:
    """Valid-looking NHS numbers from the 999 test range, none issued to a patient."""
    references, base = [], 999_000_100
    while len(references) < count:
        base += 1
        for last in range(10):
            candidate = f"{base:09d}{last}"
            if nhs_number_is_valid(candidate):
                references.append(candidate)
                break
    return references


@transaction.atomic
def seed_incidents(*, months: int = 6, seed: int = 2026) -> int:
    """Create the demo incidents unless there are incidents already. Returns how many
    were created."""
    if Incident.objects.exists():
        return 0
    # Invented demo data, reproducible from the seed: nothing here needs to be secret.
    rng = random.Random(seed)  # noqa: S311  # nosec B311
    now = timezone.now()
    units = list(Unit.objects.active())
    staff = {
        unit.pk: list(User.objects.filter(units=unit, is_active=True).exclude(role=Role.MANAGER))
        for unit in units
    }
    units = [unit for unit in units if staff[unit.pk]]
    if not units:
        return 0
    types = {rt.code: rt for rt in RequestType.objects.all()}
    channels = {channel.code: channel for channel in Channel.objects.all()}
    scripts = list(ScriptVersion.objects.offered().prefetch_related("request_types"))
    # The demo's story: the library's words were approved before its months of history
    # (an incident records only words approved when it happened).
    ScriptVersion.objects.filter(pk__in=[version.pk for version in scripts]).update(
        decided_at=now - timedelta(days=months * 31 + 1)
    )
    supervisors = list(User.objects.filter(role=Role.SUPERVISOR, is_active=True))
    patients = demo_patient_references(60)
    # A few patients come back again and again, some to several staff and units.
    regulars = patients[:6]

    plan = []
    for _ in range(months * 26):
        occurred = now - timedelta(days=rng.uniform(0.2, months * 30.4), hours=rng.uniform(0, 6))
        plan.append(occurred)
    plan.sort()

    created = 0
    for occurred in plan:
        code, _, channel_codes, descriptions = rng.choices(
            SITUATIONS, weights=[s[1] for s in SITUATIONS]
        )[0]
        unit = rng.choice(units)
        reporter = rng.choice(staff[unit.pk])
        reference = rng.choice(regulars) if rng.random() < 0.3 else rng.choice(patients[6:])
        other_party = rng.choice(
            [OtherParty.PATIENT] * 5 + [OtherParty.RELATIVE] * 2 + [OtherParty.FORMER_PATIENT]
        )
        if code == "post-discharge-contact":
            other_party = OtherParty.FORMER_PATIENT
        fitting = [v for v in scripts if any(rt.code == code for rt in v.request_types.all())]
        version = rng.choice(fitting) if fitting and rng.random() < 0.7 else None
        response = rng.choices(
            [PersonResponse.ACCEPTED, PersonResponse.ASKED_AGAIN, PersonResponse.ESCALATED],
            weights=[6, 3, 1],
        )[0]
        high_risk = code in {"harassment", "stalking", "physical"}
        incident, _ = services.log_incident(
            reporter=reporter,
            token=uuid.uuid4(),
            unit=unit,
            occurred_at=occurred,
            location=rng.choice(LOCATIONS),
            other_party=other_party,
            patient_reference=reference,
            request_type=types[code],
            channel=channels[rng.choice(channel_codes)],
            description=rng.choice(descriptions),
            script_version=version,
            own_words=rng.choice(OWN_WORDS),
            person_response=response,
            ended_interaction=high_risk or rng.random() < 0.2,
            called_supervisor=high_risk or rng.random() < 0.15,
            called_security=high_risk and rng.random() < 0.6,
            called_police=code == "physical",
            feels_unsafe=high_risk and rng.random() < 0.5,
            wants_debrief=rng.random() < 0.25,
            witnesses=[
                services.WitnessDetails(name=rng.choice(WITNESS_NAMES), role="staff")
                for _ in range(rng.choice([0, 0, 1, 2]))
            ],
            late_reason="Reported from the demo history."
            if now - occurred > timedelta(30)
            else "",
            notify=False,
        )
        _age(incident, rng=rng, now=now, supervisors=supervisors)
        if rng.random() < 0.08:
            Addendum.objects.create(
                incident=incident,
                author=reporter,
                text="The patient asked about me again at the next visit.",
            )
        created += 1
    _age_alerts(now=now, supervisors=supervisors)
    return created


def _age_alerts(*, now, supervisors: list[User]) -> None:
    """Alerts raised while loading carry the loading time: date them by their latest
    incident instead, and resolve the old ones as a supervisor would have."""
    for alert in Alert.objects.filter(span_end__isnull=False):
        latest = alert.span_end + timedelta(hours=2)
        fields = {"opened_at": min(latest, now), "last_matched_at": min(latest, now)}
        if now - alert.span_end > timedelta(days=45) and supervisors:
            fields.update(
                status=AlertStatus.RESOLVED,
                resolved_by=supervisors[0],
                resolved_at=min(latest + timedelta(days=7), now),
                resolution_note="Expectations set in writing; no further incidents.",
            )
        Alert.objects.filter(pk=alert.pk).update(**fields)


def _age(incident: Incident, *, rng: random.Random, now, supervisors: list[User]) -> None:
    """Give a demo incident a believable history: filed soon after it happened, and
    reviewed, then closed, as time went by."""
    submitted = min(incident.occurred_at + timedelta(hours=rng.uniform(0.3, 10)), now)
    due = services.review_due(submitted_at=submitted, severity=incident.severity)
    fields = {"submitted_at": submitted, "review_due_at": due, "notified_at": submitted}
    age = now - submitted
    reviewer = next((s for s in supervisors if s.units.filter(pk=incident.unit_id).exists()), None)
    if reviewer is not None and age > timedelta(days=1) and rng.random() < 0.92:
        reviewed = submitted + timedelta(hours=rng.uniform(2, 96))
        if reviewed < now:
            fields.update(
                status=Status.UNDER_REVIEW,
                reviewed_at=reviewed,
                reviewed_by=reviewer,
                feedback=rng.choice(FEEDBACK),
                feedback_at=reviewed,
                feedback_by=reviewer,
                debrief_offered=rng.random() < 0.6,
                spoke_with_patient=rng.random() < 0.5,
                expectations_in_writing=incident.severity > 1 and rng.random() < 0.5,
                security_informed=incident.called_security,
            )
            events = [
                IncidentEvent(
                    incident=incident,
                    actor=reviewer,
                    kind=IncidentEvent.Kind.STATUS_CHANGED,
                    created_at=reviewed,
                    from_status=Status.SUBMITTED,
                    to_status=Status.UNDER_REVIEW,
                ),
                IncidentEvent(
                    incident=incident,
                    actor=reviewer,
                    kind=IncidentEvent.Kind.FEEDBACK,
                    created_at=reviewed,
                ),
            ]
            if age > timedelta(days=10):
                closed = reviewed + timedelta(days=rng.uniform(1, 6))
                fields.update(status=Status.CLOSED, closed_at=min(closed, now))
                events.append(
                    IncidentEvent(
                        incident=incident,
                        actor=reviewer,
                        kind=IncidentEvent.Kind.STATUS_CHANGED,
                        created_at=min(closed, now),
                        from_status=Status.UNDER_REVIEW,
                        to_status=Status.CLOSED,
                    )
                )
            IncidentEvent.objects.bulk_create(events)
    Incident.objects.filter(pk=incident.pk).update(**fields)
