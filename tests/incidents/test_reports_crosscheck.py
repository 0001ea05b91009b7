"""The monthly summary and the CSV, checked against figures counted again in plain Python.

A few hundred incidents made from a fixed seed over two years and several units, with
the awkward ones on purpose: local midnight at both ends of months, the hours around
both clock changes, 29 February, late reports filed into a month long closed, with and
without patients, scripts (current and superseded words) and witnesses, reviewed,
closed and overdue ones, a supervisor's own reports, a unit closed since, patients seen
on several units. Every figure is then counted again from the rows, one incident at a
time, on the local clock (zoneinfo), and compared with what ``monthly_summary`` says.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from boundaries.models import Role
from incidents import reports
from incidents.exports import BOM
from incidents.models import (
    REVIEW_ACTIONS,
    Alert,
    AlertIncident,
    AlertRule,
    AlertStatus,
    Channel,
    Incident,
    OtherParty,
    Patient,
    PersonResponse,
    RequestType,
    Severity,
    Status,
)
from incidents.reports import REPORTER_ACTIONS, Month
from scripts_library.models import ScriptVersion
from tests.conftest import client_for
from tests.factories import (
    IncidentFactory,
    PatientFactory,
    ScriptFactory,
    UnitFactory,
    UserFactory,
    WitnessFactory,
)

SEED = 20240229
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2025, 4, 10, 12, 0, tzinfo=UTC)
FIRST = datetime(2023, 3, 1, tzinfo=LONDON)
# Leap February; March and October with their clock changes; January across the year's
# end; March 2025 (clocks forward on the 30th); the month of NOW, not yet over.
MONTHS = [
    Month(2024, 2),
    Month(2024, 3),
    Month(2024, 10),
    Month(2025, 1),
    Month(2025, 3),
    Month(2025, 4),
]


def local(moment: datetime) -> datetime:
    return moment.astimezone(LONDON)


def month_of(moment: datetime) -> tuple[int, int]:
    when = local(moment)
    return when.year, when.month


def awkward_instants() -> list[datetime]:
    """Instants where a month, a day or an hour is easy to get wrong."""
    instants = []
    month = datetime(2023, 4, 1, tzinfo=LONDON)
    while month < NOW:
        start = month.astimezone(UTC)
        instants += [start, start - timedelta(microseconds=1), start + timedelta(minutes=30)]
        year, number = divmod(month.year * 12 + month.month, 12)
        month = datetime(year, number + 1, 1, tzinfo=LONDON)
    # Clocks forward at 01:00 UTC (01:00 GMT becomes 02:00 BST), back at 01:00 UTC (02:00
    # BST becomes 01:00 GMT, so 01:00 to 02:00 happens twice).
    for day in (
        datetime(2024, 3, 31, tzinfo=UTC),
        datetime(2025, 3, 30, tzinfo=UTC),
        datetime(2023, 10, 29, tzinfo=UTC),
        datetime(2024, 10, 27, tzinfo=UTC),
    ):
        for minutes in (-30, 0, 30, 59, 60, 61, 90, 119, 120, 150):
            instants.append(day + timedelta(minutes=minutes))
    for hour, minute in ((0, 0), (0, 30), (12, 0), (23, 30), (23, 59)):
        instants.append(datetime(2024, 2, 29, hour, minute, tzinfo=LONDON).astimezone(UTC))
    return instants


def build_world(rng: random.Random) -> dict:
    units = [
        UnitFactory(code="WARD-A", name="Ward A"),
        UnitFactory(code="WARD-B", name="Ward B"),
        UnitFactory(code="CLINIC-C", name="Clinic C"),
        UnitFactory(code="OLD-D", name="Old ward D"),
    ]
    staff = {}
    supervisors = {}
    for unit in units:
        supervisor = UserFactory(role=Role.SUPERVISOR, units=[unit])
        supervisors[unit.pk] = supervisor
        nurses = [UserFactory(role=Role.REPORTER, units=[unit]) for _ in range(2)]
        staff[unit.pk] = [*nurses, supervisor]
    manager = UserFactory(role=Role.MANAGER, units=[units[0]])
    # A manager files now and then too: their rows' review actions are theirs not to see.
    staff[units[0].pk].append(manager)
    patients = PatientFactory.create_batch(30)
    scripts = ScriptFactory.create_batch(13)
    versions = [script.current_version for script in scripts]
    # Five scripts have new words: incidents before them used the first version.
    for script in scripts[:5]:
        old = script.current_version
        ScriptVersion.objects.filter(pk=old.pk).update(state="superseded")
        new = ScriptVersion.objects.create(
            script=script,
            number=2,
            title=f"{old.title}, revised",
            text="I can't share that. The ward's number is on your letter.",
            guidance="Say it kindly.",
            category=old.category,
            stage=old.stage,
            state="approved",
            decided_at=FIRST,
        )
        script.current_version = new
        script.save(update_fields=["current_version"])
        versions.append(new)
    request_types = list(RequestType.objects.all())
    channels = list(Channel.objects.all())

    instants = awkward_instants()
    span = (NOW - FIRST).total_seconds()
    instants += [FIRST + timedelta(seconds=rng.uniform(0, span)) for _ in range(80)]
    # Most incidents in the months reported on, so that their figures are not all zeros.
    for month in MONTHS:
        start, end = month.start.astimezone(UTC), min(month.end, NOW).astimezone(UTC)
        seconds = (end - start).total_seconds()
        instants += [start + timedelta(seconds=rng.uniform(0, seconds)) for _ in range(30)]

    incidents = []
    for occurred_at in instants:
        unit = rng.choice(units)
        reporter = rng.choice(staff[unit.pk])
        other_party = rng.choice(list(OtherParty))
        # A few patients come back again and again, on several units.
        patient = (
            rng.choice(patients[:8] if rng.random() < 0.5 else patients)
            if other_party in (OtherParty.PATIENT, OtherParty.FORMER_PATIENT)
            and rng.random() < 0.9
            else None
        )
        severity = rng.choice(list(Severity))
        late = rng.random() < 0.08
        submitted_at = occurred_at + (
            timedelta(days=rng.randint(31, 90)) if late else timedelta(minutes=rng.randint(0, 240))
        )
        submitted_at = min(submitted_at, NOW - timedelta(minutes=1))
        occurred_at = min(occurred_at, submitted_at)
        review_due_at = submitted_at + timedelta(days=1 if severity == Severity.HIGH else 3)
        status = rng.choice([Status.SUBMITTED, Status.UNDER_REVIEW, Status.CLOSED, Status.CLOSED])
        # Whoever reviews, it is never the reporter: their unit's supervisor, else the
        # manager (or, for the manager's own reports, the supervisor).
        reviewer = supervisors[unit.pk] if reporter != supervisors[unit.pk] else manager
        fields = {}
        if status != Status.SUBMITTED:
            # Whole hours (1 and 3 days among them, the review targets): waits tie, the
            # median is sometimes between two, and some reviews land on the due time.
            hours = rng.choice([1, 2, 5, 20, 24, 30, 72, 80, 200])
            reviewed_at = submitted_at + timedelta(hours=hours)
            if reviewed_at > NOW:
                status = Status.SUBMITTED
            else:
                fields.update(
                    reviewed_at=reviewed_at,
                    closed_at=reviewed_at + timedelta(hours=1)
                    if status == Status.CLOSED
                    else None,
                )
        if status != Status.SUBMITTED or rng.random() < 0.2:
            # Follow-up may be recorded while an incident is still "submitted".
            fields.update(
                reviewed_by=reviewer, **{name: rng.random() < 0.3 for name, _ in REVIEW_ACTIONS}
            )
        made = IncidentFactory(
            reporter=reporter,
            unit=unit,
            occurred_at=occurred_at,
            submitted_at=submitted_at,
            late_reason="Only told later." if late else "",
            review_due_at=review_due_at,
            other_party=other_party,
            patient=patient,
            request_type=rng.choice(request_types),
            channel=rng.choice(channels),
            severity=severity,
            script_version=rng.choice(versions) if rng.random() < 0.65 else None,
            person_response=rng.choice(list(PersonResponse)),
            status=status,
            **{name: rng.random() < 0.25 for name, _ in REPORTER_ACTIONS},
            **fields,
        )
        for _ in range(rng.choice([0, 0, 1, 2])):
            WitnessFactory(incident=made)
        incidents.append(made)

    alerts = []
    for index in range(25):
        opened_at = rng.choice(instants).replace(microsecond=0)
        status = rng.choice(list(AlertStatus))
        extra = {}
        if status == AlertStatus.RESOLVED:
            extra = {
                "resolved_at": min(opened_at + timedelta(days=rng.randint(0, 60)), NOW),
                "resolved_by": manager,
            }
        elif status == AlertStatus.ACKNOWLEDGED:
            extra = {"acknowledged_at": opened_at, "acknowledged_by": manager}
        alert = Alert.objects.create(
            rule=AlertRule.REPEAT_PATIENT,
            pattern_key=f"crosscheck:{index}",
            opened_at=opened_at,
            last_matched_at=opened_at,
            status=status,
            **extra,
        )
        for item in rng.sample(incidents, rng.randint(1, 3)):
            AlertIncident.objects.create(alert=alert, incident=item, unit=item.unit)
        alerts.append(alert)

    # The fourth unit closes: its history stays in every report.
    units[3].is_active = False
    units[3].save(update_fields=["is_active"])
    return {
        "units": units,
        "supervisors": supervisors,
        "manager": manager,
        "incidents": incidents,
        "alerts": alerts,
    }


# --- The figures, counted again -----------------------------------------------------------


def every_incident() -> list[Incident]:
    return list(
        Incident.objects.select_related(
            "unit", "patient", "request_type", "channel", "script_version__script__current_version"
        ).order_by("pk")
    )


def expected_summary(
    everything: list[Incident], *, month: Month, unit, reader_id: int | None
) -> dict:
    rows = [row for row in everything if unit is None or row.unit_id == unit.pk]
    key = (month.year, month.month)
    in_month = [row for row in rows if month_of(row.occurred_at) == key]

    def count_in(m: Month) -> int:
        return sum(1 for row in rows if month_of(row.occurred_at) == (m.year, m.month))

    reviewed = sorted(
        row.reviewed_at - row.submitted_at for row in in_month if row.reviewed_at is not None
    )
    if not reviewed:
        median = None
    elif len(reviewed) % 2:
        median = reviewed[len(reviewed) // 2]
    else:
        median = (reviewed[len(reviewed) // 2 - 1] + reviewed[len(reviewed) // 2]) / 2

    def tally(labels: list[str]) -> dict[str, int]:
        return dict(Counter(labels))

    weekdays, hours = Counter(), Counter()
    for row in in_month:
        when = local(row.occurred_at)
        weekdays[reports.WEEKDAYS[when.weekday()]] += 1
        hours[f"{when.hour:02d}"] += 1

    patients: dict[int, list[Incident]] = {}
    for row in in_month:
        if row.patient_id is not None:
            patients.setdefault(row.patient_id, []).append(row)
    repeats = [
        (len(items), max(i.severity for i in items), patient, items)
        for patient, items in patients.items()
        if len(items) >= 2
    ]
    # Ties go to the lower patient id, as the report ranks them (and scripts below to the
    # lower script id): an order of its own, not part of what is checked.
    repeats.sort(key=lambda item: (-item[0], -item[1], item[2]))

    scripts: dict[int, list] = {}
    for row in in_month:
        if row.script_version_id is not None:
            script = row.script_version.script
            used = scripts.setdefault(script.pk, [script.current_version.title, Counter()])
            used[1][row.person_response] += 1
    script_rows = sorted(
        (
            (title, sum(c.values()), c["accepted"], c["asked_again"], c["escalated"], pk)
            for pk, (title, c) in scripts.items()
        ),
        key=lambda item: (-item[1], item[5]),
    )
    own = Counter(row.person_response for row in in_month if row.script_version_id is None)

    alerts = [
        alert
        for alert in Alert.objects.prefetch_related("links").order_by("pk")
        if unit is None or any(link.unit_id == unit.pk for link in alert.links.all())
    ]
    unresolved = [a for a in alerts if a.status != AlertStatus.RESOLVED]

    by_unit = None
    if unit is None:
        counted = sorted(
            Counter(row.unit.code for row in in_month).items(), key=lambda i: (-i[1], i[0])
        )
        by_unit = dict(counted[: reports.TOP_UNITS])
        if len(counted) > reports.TOP_UNITS:
            by_unit["Other units"] = sum(n for _, n in counted[reports.TOP_UNITS :])

    return {
        "incidents": len(in_month),
        "previous_month": count_in(month.shifted(-1)),
        "year_earlier": count_in(month.shifted(-12)),
        "trend": [(month.shifted(n), count_in(month.shifted(n))) for n in range(-11, 1)],
        "severity": tuple(
            sum(1 for row in in_month if row.severity == level)
            for level in (Severity.HIGH, Severity.MODERATE, Severity.LOW)
        ),
        "alerts_opened": sum(1 for a in alerts if month_of(a.opened_at) == key),
        "alerts_resolved": sum(
            1 for a in alerts if a.resolved_at is not None and month_of(a.resolved_at) == key
        ),
        "repeat_patients": len(repeats),
        "repeat_table": [
            (
                reports._pseudonym(rank),
                n,
                len({i.reporter_id for i in items}),
                len({i.unit_id for i in items}),
                Severity(worst).label,
            )
            for rank, (n, worst, _, items) in enumerate(repeats[: reports.TOP_REPEAT_PATIENTS])
        ],
        "reviewed": len(reviewed),
        "median": median,
        "target": (
            sum(
                1
                for row in in_month
                if row.reviewed_at is not None and row.reviewed_at <= row.review_due_at
            ),
            sum(1 for row in in_month if row.reviewed_at is not None or row.review_due_at < NOW),
        ),
        "by_request_type": tally([row.request_type.name for row in in_month]),
        "by_channel": tally([row.channel.name for row in in_month]),
        "by_unit": by_unit,
        "by_weekday": {day: weekdays[day] for day in reports.WEEKDAYS},
        "by_hour": {f"{hour:02d}": hours[f"{hour:02d}"] for hour in range(24)},
        "responses": {
            label: sum(1 for row in in_month if row.person_response == value)
            for value, label in PersonResponse.choices
        },
        "scripts": [row[:5] for row in script_rows[: reports.TOP_SCRIPTS]],
        "other_scripts": tuple(
            sum(row[i] for row in script_rows[reports.TOP_SCRIPTS :]) for i in range(1, 5)
        ),
        "own_words": (
            sum(own.values()),
            own["accepted"],
            own["asked_again"],
            own["escalated"],
        ),
        "reporter_actions": {
            label: sum(1 for row in in_month if getattr(row, name))
            for name, label in REPORTER_ACTIONS
        },
        "review_actions": {
            label: sum(
                1 for row in in_month if getattr(row, name) and row.reporter_id != reader_id
            )
            for name, label in REVIEW_ACTIONS
        },
        "open_items": (
            sum(1 for row in rows if row.status == Status.SUBMITTED),
            sum(1 for row in rows if row.status == Status.UNDER_REVIEW),
            sum(1 for row in rows if row.status == Status.SUBMITTED and row.review_due_at < NOW),
            len(unresolved),
        ),
        "in_month": sorted(in_month, key=lambda row: (row.occurred_at, row.pk)),
    }


def actual_summary(summary: reports.MonthlySummary) -> dict:
    figures = summary.figures

    def tallies(items) -> dict[str, int]:
        return {item.label: item.count for item in items if item.count}

    other = summary.other_scripts
    return {
        "incidents": figures.incidents,
        "previous_month": figures.previous_month.count,
        "year_earlier": figures.year_earlier.count,
        "trend": summary.trend,
        "severity": (figures.high_severity, figures.moderate_severity, figures.low_severity),
        "alerts_opened": figures.alerts_opened,
        "alerts_resolved": figures.alerts_resolved,
        "repeat_patients": figures.repeat_patients,
        "repeat_table": [
            (p.pseudonym, p.incidents, p.staff, p.units, p.highest_severity)
            for p in summary.repeat_patients
        ],
        "reviewed": figures.reviewed,
        "median": figures.median_review,
        "target": (figures.review_target_met, figures.review_target_due),
        "by_request_type": tallies(summary.by_request_type),
        "by_channel": tallies(summary.by_channel),
        "by_unit": None if summary.by_unit is None else tallies(summary.by_unit),
        "by_weekday": {item.label: item.count for item in summary.by_weekday},
        "by_hour": {item.label: item.count for item in summary.by_hour},
        "responses": {item.label: item.count for item in summary.responses},
        "scripts": [
            (u.title, u.used, u.accepted, u.asked_again, u.escalated) for u in summary.scripts
        ],
        "other_scripts": (0, 0, 0, 0)
        if other is None
        else (other.used, other.accepted, other.asked_again, other.escalated),
        "own_words": (
            summary.own_words.used,
            summary.own_words.accepted,
            summary.own_words.asked_again,
            summary.own_words.escalated,
        ),
        "reporter_actions": {item.label: item.count for item in summary.reporter_actions},
        "review_actions": {item.label: item.count for item in summary.review_actions},
        "open_items": (
            summary.open_items.unreviewed,
            summary.open_items.under_review,
            summary.open_items.overdue,
            summary.open_items.unresolved_alerts,
        ),
    }


def expected_csv(in_month: list[Incident], exporter_id: int, *, details: bool) -> list[dict]:
    def iso(moment):
        return "" if moment is None else local(moment).isoformat(timespec="seconds")

    def labels(row, actions):
        return "; ".join(label for name, label in actions if getattr(row, name))

    def text(value: str) -> str:
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

    return [
        {
            "Reference": f"BND-{local(row.submitted_at).year}-{row.pk:05d}",
            "Occurred at": iso(row.occurred_at),
            "Filed at": iso(row.submitted_at),
            "Unit": row.unit.code,
            "Request type": text(row.request_type.name),
            "Channel": text(row.channel.name),
            "Other party": OtherParty(row.other_party).label,
            "Severity": Severity(row.severity).label,
            "Status": Status(row.status).label,
            "Script": row.script_version.title if row.script_version else "Own words",
            "Script version": str(row.script_version.number) if row.script_version else "",
            "Person's response": PersonResponse(row.person_response).label,
            "Actions by the reporter": labels(row, REPORTER_ACTIONS),
            "Review due": iso(row.review_due_at),
            "First reviewed": iso(row.reviewed_at),
            "Closed": iso(row.closed_at),
            "Actions by supervisors": ""
            if row.reporter_id == exporter_id
            else labels(row, REVIEW_ACTIONS),
            **(
                {
                    "Location": text(row.location),
                    "Patient reference": row.patient.reference if row.patient else "",
                    "Description": text(row.description),
                    "Words used": text(row.words_used),
                }
                if details
                else {}
            ),
        }
        for row in in_month
    ]


@pytest.fixture
def world(db):
    return build_world(random.Random(SEED))


def test_the_monthly_figures_match_a_count_made_one_incident_at_a_time(world):
    everything = every_incident()
    # The manager's organisation (the manager reported some of it), the scheduled job's
    # (nobody's), and each unit's supervisor's, the closed unit's included.
    scopes = [(None, world["manager"].pk), (None, None)] + [
        (unit, world["supervisors"][unit.pk].pk) for unit in world["units"]
    ]
    checked = 0
    for month in MONTHS:
        for unit, reader_id in scopes:
            summary = reports.monthly_summary(
                month=month, unit=unit, generated_by="Test", now=NOW, reader_id=reader_id
            )
            expected = expected_summary(everything, month=month, unit=unit, reader_id=reader_id)
            expected.pop("in_month")
            actual = actual_summary(summary)
            for name, value in expected.items():
                assert actual[name] == value, (str(month), unit and unit.code, name)
            checked += expected["incidents"]
    assert checked > 300


def test_the_csv_holds_each_incident_of_the_month_as_recorded(world):
    everything = every_incident()
    ward_a = world["units"][0]
    supervisor = world["supervisors"][ward_a.pk]
    references = list(Patient.objects.values_list("reference", flat=True))
    downloads = (
        (client_for(world["manager"]), None, world["manager"], ""),
        (client_for(supervisor), ward_a, supervisor, ""),
        (client_for(supervisor), ward_a, supervisor, "&details=1"),
    )
    for month in MONTHS:
        for client, unit, exporter, details in downloads:
            query = f"month={month}" + (f"&unit={unit.code}" if unit else "") + details
            response = client.get(f"/reports/incidents.csv?{query}")
            assert response.status_code == 200
            body = b"".join(response.streaming_content).decode("utf-8").removeprefix(BOM)
            rows = list(csv.DictReader(io.StringIO(body)))
            in_month = expected_summary(everything, month=month, unit=unit, reader_id=exporter.pk)[
                "in_month"
            ]
            expected = expected_csv(in_month, exporter.pk, details=bool(details))
            assert rows == expected, (str(month), query)
            if not details:
                assert not any(reference in body for reference in references), query
