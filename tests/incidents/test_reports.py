"""The monthly summary's figures, counted by hand from a small October 2026.

October 2026 in London starts in summer time (BST, UTC+1) and ends in winter time: the
clocks went back at 02:00 BST on Sunday 25 October, so 01:30 happened twice that night.

Ward A (nurse):
  a  Thu 1 Oct 00:30 BST  (30 Sep 23:30 UTC)  low,      patient 1, script 1, accepted
  b  Sat 31 Oct 23:30 GMT (31 Oct 23:30 UTC)  high,     patient 1, own words, escalated
  c  Sun 25 Oct 01:30 BST (00:30 UTC)         moderate, patient 2, script 1, asked again
  d  Sun 25 Oct 01:30 GMT (01:30 UTC)         low,      patient 2, script 2, accepted
Ward B (nurse2):
  e  Thu 15 Oct 12:00 BST (11:00 UTC)         high,     patient 1, own words, accepted
Outside October: Wed 30 Sep 23:30 BST (ward A), 10 Sep (ward B), 15 Oct 2025 (ward A),
Sun 1 Nov 00:30 GMT (ward B).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boundaries.models import Role
from incidents import reports
from incidents.models import (
    Alert,
    AlertIncident,
    AlertRule,
    AlertStatus,
    PersonResponse,
    Severity,
    Status,
)
from incidents.reports import MalformedMonth, Month
from tests.factories import (
    IncidentFactory,
    PatientFactory,
    ScriptFactory,
    UnitFactory,
    UserFactory,
    channel,
    request_type,
)

OCTOBER = Month(2026, 10)
# "Now" for the figures about work waiting: after the month, before December.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def incident(*, occurred_at, reviewed_after=None, **fields):
    """An incident filed an hour after it happened, due for review 3 days later (1 day if
    high), and reviewed ``reviewed_after`` filing (if given)."""
    submitted_at = occurred_at + timedelta(hours=1)
    severity = fields.setdefault("severity", Severity.LOW)
    due = timedelta(days=1 if severity == Severity.HIGH else 3)
    if reviewed_after is not None:
        fields.setdefault("status", Status.UNDER_REVIEW)
        fields["reviewed_at"] = submitted_at + reviewed_after
    return IncidentFactory(
        occurred_at=occurred_at,
        submitted_at=submitted_at,
        review_due_at=submitted_at + due,
        **fields,
    )


def alert(*, opened_at, incidents, status=AlertStatus.OPEN, resolved_at=None):
    raised = Alert.objects.create(
        rule=AlertRule.HIGH_SEVERITY,
        pattern_key=f"test:{opened_at.isoformat()}",
        opened_at=opened_at,
        last_matched_at=opened_at,
        status=status,
        resolved_at=resolved_at,
        resolved_by=UserFactory(role=Role.SUPERVISOR) if resolved_at else None,
    )
    for item in incidents:
        AlertIncident.objects.create(alert=raised, incident=item, unit=item.unit)
    return raised


def build_october(*, nurse, other_unit_nurse):
    """The month described at the top of this module; returns its incidents by letter."""
    first, second = PatientFactory(), PatientFactory()
    script_1 = ScriptFactory(version__title="Our policy on personal numbers")
    script_2 = ScriptFactory(version__title="Back to your care plan")
    made = {
        "a": incident(
            reporter=nurse,
            occurred_at=utc(2026, 9, 30, 23, 30),
            patient=first,
            script_version=script_1.current_version,
            person_response=PersonResponse.ACCEPTED,
            reviewed_after=timedelta(hours=2),
            status=Status.CLOSED,
        ),
        "b": incident(
            reporter=nurse,
            occurred_at=utc(2026, 10, 31, 23, 30),
            patient=first,
            severity=Severity.HIGH,
            request_type=request_type("harassment"),
            channel=channel("social-media"),
            script_version=None,
            person_response=PersonResponse.ESCALATED,
            called_security=True,
        ),
        "c": incident(
            reporter=nurse,
            occurred_at=utc(2026, 10, 25, 0, 30),
            patient=second,
            severity=Severity.MODERATE,
            request_type=request_type("gifts"),
            script_version=script_1.current_version,
            person_response=PersonResponse.ASKED_AGAIN,
            reviewed_after=timedelta(days=4),
        ),
        "d": incident(
            reporter=nurse,
            occurred_at=utc(2026, 10, 25, 1, 30),
            patient=second,
            script_version=script_2.current_version,
            person_response=PersonResponse.ACCEPTED,
            reviewed_after=timedelta(hours=10),
            status=Status.CLOSED,
            debrief_offered=True,
        ),
        "e": incident(
            reporter=other_unit_nurse,
            occurred_at=utc(2026, 10, 15, 11, 0),
            patient=first,
            severity=Severity.HIGH,
            request_type=request_type("harassment"),
            channel=channel("personal-phone"),
            script_version=None,
            person_response=PersonResponse.ACCEPTED,
            reviewed_after=timedelta(hours=5),
            ended_interaction=True,
            called_police=True,
            security_informed=True,
        ),
        "september_a": incident(
            reporter=nurse,
            occurred_at=utc(2026, 9, 30, 22, 30),
            reviewed_after=timedelta(hours=1),
            status=Status.CLOSED,
        ),
        "september_b": incident(
            reporter=other_unit_nurse,
            occurred_at=utc(2026, 9, 10, 9, 0),
            reviewed_after=timedelta(hours=1),
            status=Status.CLOSED,
        ),
        "last_october": incident(
            reporter=nurse,
            occurred_at=utc(2025, 10, 15, 9, 0),
            reviewed_after=timedelta(hours=1),
            status=Status.CLOSED,
        ),
        "november": incident(reporter=other_unit_nurse, occurred_at=utc(2026, 11, 1, 0, 30)),
    }
    alert(
        opened_at=utc(2026, 10, 10, 9, 0),
        incidents=[made["a"]],
        status=AlertStatus.RESOLVED,
        resolved_at=utc(2026, 10, 20, 9, 0),
    )
    alert(
        opened_at=utc(2026, 9, 20, 9, 0),
        incidents=[made["e"]],
        status=AlertStatus.RESOLVED,
        resolved_at=utc(2026, 10, 5, 9, 0),
    )
    alert(opened_at=utc(2026, 10, 31, 23, 45), incidents=[made["b"]])
    return made


@pytest.fixture
def october(nurse, other_unit_nurse):
    return build_october(nurse=nurse, other_unit_nurse=other_unit_nurse)


def summary_for(unit=None):
    return reports.monthly_summary(month=OCTOBER, unit=unit, generated_by="Test", now=NOW)


def counts(tallies) -> dict[str, int]:
    return {tally.label: tally.count for tally in tallies}


# --- Months ------------------------------------------------------------------------------


def test_a_month_runs_from_local_midnight_to_local_midnight():
    assert OCTOBER.start == utc(2026, 9, 30, 23, 0)  # 00:00 BST
    assert OCTOBER.end == utc(2026, 11, 1, 0, 0)  # 00:00 GMT
    march = Month(2026, 3)  # the clocks go forward on the 29th: an hour shorter
    assert march.end.astimezone(UTC) - march.start.astimezone(UTC) == timedelta(days=31, hours=-1)


@pytest.mark.parametrize(
    ("value", "expected"), [("2026-10", Month(2026, 10)), (" 2026-01 ", Month(2026, 1))]
)
def test_a_month_is_read_from_year_and_month(value, expected):
    assert Month.parse(value) == expected


@pytest.mark.parametrize("value", ["2026-13", "2026-1", "October", "2026-10-01", "", "1999-12"])
def test_a_malformed_month_is_refused_with_a_reason(value):
    with pytest.raises(MalformedMonth):
        Month.parse(value)


def test_a_month_that_has_not_started_is_refused():
    with pytest.raises(MalformedMonth, match="has not started"):
        Month.parse("2026-12", now=NOW)


def test_exact_times_name_the_zone_even_in_the_hour_that_happens_twice():
    assert reports.exact_time(utc(2026, 10, 25, 0, 30)) == (
        "Sunday 25 October 2026, 01:30 BST (UTC+01:00)"
    )
    assert reports.exact_time(utc(2026, 10, 25, 1, 30), seconds=True) == (
        "Sunday 25 October 2026, 01:30:00 GMT (UTC+00:00)"
    )
    assert reports.exact_time(utc(2026, 10, 25, 1, 30), short=True) == "25 Oct 2026, 01:30 GMT"
    assert reports.exact_time(None) == ""


def test_last_month_is_the_default_across_the_year_end():
    assert Month.last_completed(utc(2027, 1, 10)) == Month(2026, 12)
    assert Month.last_completed(NOW) == OCTOBER


# --- Figures -------------------------------------------------------------------------------


def test_incidents_at_both_edges_of_the_month_belong_to_it_by_the_local_clock(october):
    summary = summary_for()
    # a (00:30 BST on the 1st) and b (23:30 GMT on the 31st) are in; 23:30 BST on
    # 30 September and 00:30 GMT on 1 November are not.
    assert summary.figures.incidents == 5
    assert summary.trend[-2] == (Month(2026, 9), 2)


def test_an_incident_at_midnight_on_the_first_belongs_to_the_new_month(nurse):
    incident(reporter=nurse, occurred_at=utc(2026, 11, 1, 0, 0))  # 00:00 GMT
    november = reports.monthly_summary(month=Month(2026, 11), generated_by="Test", now=NOW)
    assert (summary_for().figures.incidents, november.figures.incidents) == (0, 1)


def test_an_alert_resolved_after_the_month_is_not_counted_as_resolved_in_it(nurse):
    behind = incident(reporter=nurse, occurred_at=utc(2026, 10, 5, 9, 0))
    alert(
        opened_at=utc(2026, 10, 6, 9, 0),
        incidents=[behind],
        status=AlertStatus.RESOLVED,
        resolved_at=utc(2026, 11, 2, 9, 0),
    )
    figures = summary_for().figures
    assert (figures.alerts_opened, figures.alerts_resolved) == (1, 0)


def test_key_figures_for_the_organisation(october):
    figures = summary_for().figures
    assert figures.incidents == 5
    assert (figures.previous_month.count, figures.previous_month.words) == (2, "+3, +150%")
    assert (figures.year_earlier.count, figures.year_earlier.words) == (1, "+4, +400%")
    assert (figures.high_severity, figures.moderate_severity, figures.low_severity) == (2, 1, 2)
    assert (figures.alerts_opened, figures.alerts_resolved) == (2, 2)
    assert figures.repeat_patients == 2
    # Waits from filing to review: 2 h, 5 h, 10 h and 4 days.
    assert figures.reviewed == 4
    assert figures.median_review == timedelta(hours=7, minutes=30)
    assert figures.median_review_words == "7.5 hours"
    # Due by now or reviewed: a, b (overdue), c (late), d, e; on time: a, d, e.
    assert (figures.review_target_met, figures.review_target_due) == (3, 5)
    assert figures.review_target_share == 60
    # b, and 1 November's unreviewed incident on ward B.
    assert figures.overdue_now == 2


def test_key_figures_for_one_unit_count_only_its_incidents_and_alerts(october, unit):
    figures = summary_for(unit).figures
    assert figures.incidents == 4
    assert figures.previous_month.count == 1
    assert figures.year_earlier.count == 1
    assert figures.high_severity == 1
    assert (figures.alerts_opened, figures.alerts_resolved) == (2, 1)
    assert figures.repeat_patients == 2
    assert figures.median_review == timedelta(hours=10)
    assert (figures.review_target_met, figures.review_target_due) == (2, 4)
    assert figures.overdue_now == 1


def test_the_trend_covers_twelve_months_ending_with_the_report_month(october):
    trend = summary_for().trend
    assert [month for month, _ in trend] == [OCTOBER.shifted(-n) for n in range(11, -1, -1)]
    assert dict(trend)[OCTOBER] == 5
    assert sum(count for _, count in trend) == 7  # October's 5 and September's 2


def test_hours_and_days_are_counted_on_the_local_clock_across_the_clock_change(october):
    summary = summary_for()
    hours = counts(summary.by_hour)
    # Both 01:30s of 25 October are hour 01; in UTC they would be 00 and 01.
    assert {hour: n for hour, n in hours.items() if n} == {"00": 1, "01": 2, "12": 1, "23": 1}
    days = counts(summary.by_weekday)
    assert {day: n for day, n in days.items() if n} == {"Thu": 2, "Sat": 1, "Sun": 2}


def test_hours_are_local_where_the_clock_is_half_an_hour_from_utc(settings, nurse):
    """The hours are counted in UTC where the local clock is a whole number of hours
    from it (cheaper), and on the local clock elsewhere: 10:15 and 10:45 UTC are 15:45
    and 16:15 in India."""
    settings.TIME_ZONE = "Asia/Kolkata"
    for minute in (15, 45):
        IncidentFactory(reporter=nurse, occurred_at=utc(2026, 10, 14, 10, minute))
    hours = counts(summary_for().by_hour)
    assert {hour: n for hour, n in hours.items() if n} == {"15": 1, "16": 1}


@pytest.mark.parametrize(
    ("zone", "by_utc"),
    [
        ("Europe/London", True),  # 0 and +1 hour, across October's clock change
        ("America/New_York", True),
        ("Asia/Kolkata", False),  # +5:30
        ("Australia/Lord_Howe", False),  # +10:30, then +11 from 4 October
    ],
)
def test_a_month_is_cut_into_hours_in_utc_only_where_each_is_one_local_hour(zone, by_utc):
    from zoneinfo import ZoneInfo

    local = ZoneInfo(zone)
    assert (reports._hour_zone(OCTOBER, local) is UTC) is by_utc


def test_request_types_channels_and_units_are_counted(october):
    summary = summary_for()
    assert counts(summary.by_request_type) == {
        request_type("harassment").name: 2,
        request_type("personal-contact").name: 2,
        request_type("gifts").name: 1,
    }
    assert counts(summary.by_channel) == {
        channel("in-person").name: 3,
        channel("social-media").name: 1,
        channel("personal-phone").name: 1,
    }
    assert counts(summary.by_unit) == {"WARD-A": 4, "WARD-B": 1}
    assert summary_for(october["a"].unit).by_unit is None


def test_script_usage_shows_what_happened_after_each_script(october):
    summary = summary_for()
    rows = {
        usage.title: (usage.used, usage.accepted, usage.asked_again, usage.escalated)
        for usage in summary.scripts
    }
    assert rows == {
        "Our policy on personal numbers": (2, 1, 1, 0),
        "Back to your care plan": (1, 1, 0, 0),
    }
    own = summary.own_words
    assert (own.used, own.accepted, own.asked_again, own.escalated) == (2, 1, 0, 1)
    assert summary.other_scripts is None
    assert counts(summary.responses) == {
        PersonResponse.ACCEPTED.label: 3,
        PersonResponse.ASKED_AGAIN.label: 1,
        PersonResponse.ESCALATED.label: 1,
    }


def test_actions_by_reporters_and_supervisors_are_counted(october):
    summary = summary_for()
    assert counts(summary.reporter_actions) == {
        "Ended the interaction": 1,
        "Called the supervisor": 0,
        "Called security": 1,
        "Called the police": 1,
    }
    review = counts(summary.review_actions)
    assert review["Debrief offered"] == 1
    assert review["Security informed"] == 1
    assert sum(review.values()) == 2


def test_repeat_patients_are_pseudonymised_and_ranked(october):
    summary = summary_for()
    assert [
        (p.pseudonym, p.incidents, p.staff, p.units, p.highest_severity)
        for p in summary.repeat_patients
    ] == [("Patient A", 3, 2, 2, "High"), ("Patient B", 2, 1, 1, "Moderate")]


def test_open_items_are_counted_now_whatever_the_month(october, unit):
    items = summary_for().open_items
    assert (items.unreviewed, items.under_review, items.overdue) == (2, 2, 2)
    assert items.unresolved_alerts == 1
    unit_items = summary_for(unit).open_items
    assert (unit_items.unreviewed, unit_items.under_review, unit_items.overdue) == (1, 1, 1)


def test_an_empty_month_has_zeros_and_no_median(db):
    figures = summary_for().figures
    assert figures.incidents == 0
    assert figures.median_review is None
    assert figures.review_target_share is None
    assert figures.previous_month.words == "no change"


def test_the_median_of_an_odd_number_of_waits_is_the_middle_one(nurse):
    for hours in (1, 3, 50):
        incident(
            reporter=nurse,
            occurred_at=utc(2026, 10, 12, 9, 0),
            reviewed_after=timedelta(hours=hours),
        )
    assert summary_for().figures.median_review == timedelta(hours=3)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="work_mem is PostgreSQL's; SQLite finds the median without it.",
)
def test_the_median_sorts_with_more_memory_for_its_own_statement_only(nurse):
    """The median's sort may use more memory than a connection's default, and only
    the median's: the connection goes back to serving pages with the default."""
    incident(
        reporter=nurse, occurred_at=utc(2026, 10, 12, 9, 0), reviewed_after=timedelta(hours=2)
    )

    def work_mem() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            return cursor.fetchone()[0]

    default = work_mem()
    with CaptureQueriesContext(connection) as queries:
        assert summary_for().figures.median_review == timedelta(hours=2)
    assert any(
        "work_mem" in query["sql"] and reports.MEDIAN_WORK_MEM in query["sql"]
        for query in queries.captured_queries
    )
    assert work_mem() == default != reports.MEDIAN_WORK_MEM


def test_the_builder_runs_the_same_queries_for_2_or_50_incidents(nurse, unit):
    def queries(scope_unit) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            summary_for(scope_unit)
        return [query["sql"] for query in captured]

    # On PostgreSQL the median gives its sort more memory for its own statement: a
    # SET LOCAL, in a savepoint here (the test's transaction), so three statements.
    median = 3 if connection.vendor == "postgresql" else 0
    # A month with no repeat patient skips counting their staff and units, and one with
    # no script used skips naming the scripts: a query fewer each, whatever its size.
    incident(reporter=nurse, occurred_at=utc(2026, 10, 3, 9, 0), patient=None)
    assert {scope: len(queries(scope)) for scope in (None, unit)} == {
        None: 13 + median,
        unit: 12 + median,
    }
    # The smallest month that needs every query: one patient seen twice, a script used.
    patients = PatientFactory.create_batch(10)
    scripts = ScriptFactory.create_batch(3)
    incident(reporter=nurse, occurred_at=utc(2026, 10, 4, 9, 0), patient=patients[0])
    incident(
        reporter=nurse,
        occurred_at=utc(2026, 10, 5, 9, 0),
        patient=patients[0],
        script_version=scripts[0].current_version,
    )
    one = {scope: len(queries(scope)) for scope in (None, unit)}
    for index in range(48):
        incident(
            reporter=nurse,
            occurred_at=utc(2026, 10, 1 + index % 28, index % 24, 0),
            patient=patients[index % 10],
            reviewed_after=timedelta(hours=index + 1),
            severity=Severity.HIGH if index % 5 == 0 else Severity.LOW,
            script_version=scripts[index % 3].current_version,
        )
    fifty = {scope: len(queries(scope)) for scope in (None, unit)}
    assert fifty == one
    assert (one[None], one[unit]) == (15 + median, 14 + median)


def test_the_unit_chart_names_the_15_largest_units_then_the_rest(nurse):
    """16 units with 20, 19, ... 5 incidents: the 15 largest by name, then "Other units"
    with the 16th (it once named 14 and folded the 15th into the rest)."""
    for index in range(16):
        place = UnitFactory(code=f"U-{index:02d}", name=f"Unit {index}")
        for _ in range(20 - index):
            incident(reporter=nurse, unit=place, occurred_at=utc(2026, 10, 5, 9, 0))

    by_unit = summary_for().by_unit

    assert len(by_unit) == reports.TOP_UNITS + 1
    assert [(t.label, t.count) for t in by_unit][-2:] == [("U-14", 6), ("Other units", 5)]


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(1, 8, 13), (5, 8, 63), (-1, 8, -13), (1, 3, 33), (2, 3, 67), (0, 5, 0)],
)
def test_percentages_round_halves_up_as_people_do(part, whole, expected):
    assert reports.percent(part, whole) == expected


@pytest.mark.parametrize(
    ("wait", "words"),
    [
        (timedelta(0), "0 minutes"),
        (timedelta(seconds=89), "1 minute"),
        (timedelta(minutes=59, seconds=29), "59 minutes"),
        # Found by a cross-check of the report: these read "60 minutes" and "48.0 hours".
        (timedelta(minutes=59, seconds=31), "1.0 hours"),
        (timedelta(hours=47, minutes=58), "2.0 days"),
        (timedelta(hours=47, minutes=56), "47.9 hours"),
        (timedelta(days=3, hours=6), "3.2 days"),
    ],
)
def test_a_review_wait_reads_in_the_unit_its_rounded_figure_belongs_to(wait, words):
    assert reports.duration_words(wait) == words
