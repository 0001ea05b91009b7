"""Reports: the monthly summary for managers and supervisors, and a reporter's own
evidence log.

Each document has a context builder and a renderer. The builders compute every figure
in the database with aggregate queries, so the number of queries, the time and the
memory do not grow with the month's incident count (the evidence log lists incidents,
but only one reporter's, and at most ``EVIDENCE_LOG_LIMIT`` of them). The renderers go
through ``boundaries.pdf.render_pdf``, the project's only way to make a PDF.

Months are calendar months in the deployment's time zone (``settings.TIME_ZONE``): a
month runs from local midnight on its first day to local midnight on the next month's
first day, whatever the clocks did in between.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connections, transaction
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Value,
    Window,
)
from django.db.models.functions import RowNumber, TruncHour
from django.utils import timezone
from django.utils.http import urlencode

from boundaries.models import Unit
from boundaries.pdf import render_pdf
from incidents.local_time import EARLIEST_DAY, exact_time
from incidents.models import (
    REVIEW_ACTIONS,
    Addendum,
    Alert,
    AlertIncident,
    AlertStatus,
    Channel,
    Incident,
    PersonResponse,
    RequestType,
    Severity,
    Status,
)
from scripts_library.services import ScriptUsage, usage_by_script

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

    from boundaries.models import User

# The scheduled job's name on the cover, where a person's name would otherwise be.
SCHEDULED_JOB = "scheduled job"
# How many rows the summary's ranked tables and charts show; the rest are totalled.
TOP_SCRIPTS = 10
TOP_REPEAT_PATIENTS = 5
TOP_UNITS = 15
# The evidence log lists incidents one by one; past this many, the reporter narrows the
# dates, which keeps the document (and the time to lay it out) bounded.
EVIDENCE_LOG_LIMIT = 200
# And at most this much text (descriptions, words, feedback, addenda...): laying out
# a page costs time by the text on it, and 200 reports at the forms' longest took over
# a minute, past any request's time limit. About 250 typical reports' worth.
EVIDENCE_LOG_TEXT_LIMIT = 150_000
EARLIEST_YEAR = EARLIEST_DAY.year

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
REPORTER_ACTIONS = [
    ("ended_interaction", "Ended the interaction"),
    ("called_supervisor", "Called the supervisor"),
    ("called_security", "Called security"),
    ("called_police", "Called the police"),
]
_MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})")


class MalformedMonth(ValueError):
    """A month that is not YYYY-MM, or outside the months a report can cover."""


class TooManyIncidents(Exception):
    """The evidence log would list more incidents, or more text, than it holds."""

    def __init__(self, count_at_least: int, *, too_much_text: bool = False) -> None:
        super().__init__(count_at_least)
        self.count_at_least = count_at_least
        self.too_much_text = too_much_text


# --- Months and scopes ----------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in the deployment's time zone."""

    year: int
    month: int

    @classmethod
    def parse(cls, value: str, *, now: datetime | None = None) -> Month:
        """``2026-10`` to a Month; MalformedMonth, with a message a person can act on,
        for anything else or for a month that has not started yet."""
        match = _MONTH_PATTERN.fullmatch(value.strip())
        if match is None:
            raise MalformedMonth("Give the month as year and month, for example 2026-10.")
        year, number = int(match[1]), int(match[2])
        if not 1 <= number <= 12:
            raise MalformedMonth("The month must be between 01 and 12, for example 2026-10.")
        parsed = cls(year, number)
        if year < EARLIEST_YEAR:
            raise MalformedMonth(f"Reports start in {EARLIEST_YEAR}.")
        if parsed > cls.containing(now or timezone.now()):
            raise MalformedMonth(f"{parsed.label} has not started yet.")
        return parsed

    @classmethod
    def containing(cls, moment: datetime) -> Month:
        local = timezone.localtime(moment, timezone.get_default_timezone())
        return cls(local.year, local.month)

    @classmethod
    def last_completed(cls, now: datetime | None = None) -> Month:
        """The month before the current one: the default for every report."""
        return cls.containing(now or timezone.now()).shifted(-1)

    def shifted(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        """Local midnight at the start of the first day, as an aware datetime."""
        zone = timezone.get_default_timezone()
        return datetime(self.year, self.month, 1, tzinfo=zone)

    @property
    def end(self) -> datetime:
        """Local midnight at the start of the next month (exclusive)."""
        return self.shifted(1).start

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.shifted(1).first_day - timedelta(days=1)

    @property
    def label(self) -> str:
        return f"{date(self.year, self.month, 1):%B %Y}"

    @property
    def short_label(self) -> str:
        return f"{date(self.year, self.month, 1):%b %y}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Scope:
    """What a summary covers: the whole organisation, or one unit."""

    unit: Unit | None = None

    @property
    def is_organisation(self) -> bool:
        return self.unit is None

    @property
    def label(self) -> str:
        return "Whole organisation" if self.unit is None else self.unit.name

    @property
    def slug(self) -> str:
        """For file names: a unit's code (capitals, digits, hyphens) or "organisation"."""
        return "organisation" if self.unit is None else self.unit.code

    def incidents(self) -> QuerySet[Incident]:
        incidents = Incident.objects.order_by()
        return incidents if self.unit is None else incidents.filter(unit=self.unit)

    def alerts(self) -> QuerySet[Alert]:
        """Alerts involving an incident of the unit (an alert may span several units)."""
        alerts = Alert.objects.order_by()
        if self.unit is None:
            return alerts
        links = AlertIncident.objects.filter(alert=OuterRef("pk"), unit=self.unit)
        return alerts.filter(Exists(links))


def monthly_filename(month: Month, scope: Scope) -> str:
    return f"boundaries-monthly-{month}-{scope.slug}.pdf"


def monthly_title(month: Month, scope: Scope) -> str:
    return f"Boundaries monthly summary: {month.label}, {scope.label}"


def report_query(month: Month, scope: Scope) -> str:
    """The query string that names a month and a scope on the report pages: the month,
    and a unit's code (never anything about a patient)."""
    params = {"month": str(month)}
    if scope.unit is not None:
        params["unit"] = scope.unit.code
    return urlencode(params)


def incidents_filename(month: Month, scope: Scope) -> str:
    return f"boundaries-incidents-{month}-{scope.slug}.csv"


# --- Figures ---------------------------------------------------------------------------


def percent(part: int, whole: int) -> int:
    """``part`` as a whole percentage of ``whole``, halves rounded away from zero as
    people do (12.5 % is 13 %; Python's round() gives 12)."""
    value = Decimal(100 * part) / Decimal(whole)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Comparison:
    """This month's count beside an earlier month's."""

    month: Month
    count: int
    current: int

    @property
    def change(self) -> int:
        return self.current - self.count

    @property
    def percent(self) -> int | None:
        if self.count == 0:
            return None
        return percent(self.change, self.count)

    @property
    def words(self) -> str:
        if self.change == 0:
            return "no change"
        sign = "+" if self.change > 0 else "-"
        words = f"{sign}{abs(self.change)}"
        if self.percent is not None:
            # Not in brackets: the pages put the whole in brackets already, and
            # "7 (+23 (+329%))" nests them.
            words += f", {sign}{abs(self.percent)}%"
        return words


@dataclass(frozen=True)
class Tally:
    """A labelled count, for tables and charts."""

    label: str
    count: int


@dataclass(frozen=True)
class RepeatPatient:
    """A patient with two or more incidents in the month, known here only by a letter
    given by rank in this report (never their reference or any stable identifier)."""

    pseudonym: str
    incidents: int
    staff: int
    units: int
    highest_severity: str


@dataclass(frozen=True)
class OpenItems:
    """What is waiting now, in scope, whatever the month."""

    unreviewed: int
    under_review: int
    overdue: int
    unresolved_alerts: int


@dataclass(frozen=True)
class KeyFigures:
    incidents: int
    previous_month: Comparison
    year_earlier: Comparison
    high_severity: int
    moderate_severity: int
    low_severity: int
    alerts_opened: int
    alerts_resolved: int
    repeat_patients: int
    reviewed: int
    median_review: timedelta | None
    review_target_met: int
    review_target_due: int
    overdue_now: int

    @property
    def review_target_share(self) -> int | None:
        """Percentage of the incidents whose review was due (or done) that were first
        reviewed on or before their due time."""
        if self.review_target_due == 0:
            return None
        return percent(self.review_target_met, self.review_target_due)

    @property
    def median_review_words(self) -> str:
        return duration_words(self.median_review)


@dataclass
class MonthlySummary:
    """Everything the monthly summary shows; built by ``monthly_summary``."""

    month: Month
    scope: Scope
    generated_at: datetime
    generated_by: str
    organisation_name: str
    figures: KeyFigures
    trend: list[tuple[Month, int]]
    by_request_type: list[Tally]
    by_channel: list[Tally]
    by_unit: list[Tally] | None
    by_weekday: list[Tally]
    by_hour: list[Tally]
    responses: list[Tally]
    scripts: list[ScriptUsage]
    other_scripts: ScriptUsage | None
    own_words: ScriptUsage
    reporter_actions: list[Tally]
    review_actions: list[Tally]
    repeat_patients: list[RepeatPatient]
    # Whether ``review_actions`` leave out the reader's own reports (below).
    review_actions_leave_out_own: bool
    open_items: OpenItems
    time_zone: str = ""
    charts: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        return monthly_title(self.month, self.scope)

    @property
    def generated_at_text(self) -> str:
        return exact_time(self.generated_at)

    @property
    def filename(self) -> str:
        return monthly_filename(self.month, self.scope)


def duration_words(value: timedelta | None) -> str:
    """A review wait as a person says it: minutes, hours or days."""
    if value is None:
        return "no reviews yet"
    # Each unit is chosen by the figure as shown, rounded: 59.5 minutes is "1.0 hours",
    # not "60 minutes", and 47.96 hours "2.0 days", not "48.0 hours".
    seconds = max(value.total_seconds(), 0)
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(seconds / 3600, 1)
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{seconds / 86400:.1f} days"


class _Median(Aggregate):
    """PostgreSQL's exact median of an interval (``percentile_cont``)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"
    output_field = DurationField()


# Memory PostgreSQL may use to sort a month's review waits for their median.
MEDIAN_WORK_MEM = "32MB"


def _review_wait() -> ExpressionWrapper:
    return ExpressionWrapper(F("reviewed_at") - F("submitted_at"), output_field=DurationField())


def median_review_wait(incidents: QuerySet[Incident]) -> timedelta | None:
    """The median time from filing to first review over the reviewed ``incidents``.

    One query either way, and no incident rows reach Python: PostgreSQL computes it with
    ``percentile_cont``; elsewhere (SQLite) the database numbers the waits in order and
    returns only the middle one or two, which are averaged here.
    """
    reviewed = incidents.filter(reviewed_at__isnull=False).order_by()
    connection = connections[reviewed.db]
    if connection.vendor == "postgresql":
        # percentile_cont sorts every wait. A month of 100,000 incidents needs about
        # 6 MB for that, past PostgreSQL's default work_mem of 4 MB, and the sort went
        # to disk; this one statement may take more memory (SET LOCAL: until the end
        # of this transaction only).
        with transaction.atomic(using=reviewed.db):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = %s", [MEDIAN_WORK_MEM])
            return reviewed.aggregate(median=_Median(_review_wait()))["median"]
    middle = (
        reviewed.annotate(
            wait=_review_wait(),
            position=Window(RowNumber(), order_by=[F("wait").asc(), F("pk").asc()]),
            total=Window(Count("*")),
        )
        .filter(Q(position=(F("total") + 1) / 2) | Q(position=(F("total") + 2) / 2))
        .values_list("wait", flat=True)
    )
    waits = list(middle)
    if not waits:
        return None
    return sum(waits, timedelta()) / len(waits)


def _names(manager, field: str) -> dict[int, str]:
    """Every row's ``field`` by id, from a small reference table (units, request
    types, channels): a few dozen rows, whatever the number of incidents."""
    return dict(manager.order_by().values_list("pk", field))


def _tally(groups: list[dict], key: str, names: dict[int, str]) -> list[Tally]:
    """The incidents in ``groups`` counted by the name of their ``key`` (an id),
    largest first (then by name, so that the order never depends on the database's)."""
    counts: dict[str, int] = {}
    for group in groups:
        label = names.get(group[key]) or "Not recorded"
        counts[label] = counts.get(label, 0) + group["incidents"]
    return [
        Tally(label, n)
        for label, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _repeat_patients(in_month: QuerySet[Incident]) -> tuple[list[dict], int]:
    """The month's top repeat patients (two or more incidents), with their distinct
    staff and units, and how many repeat patients there are.

    Two steps: the month's patients are counted in a hash (no sort of the month), then
    the distinct staff and units are counted for the few top ones only, from the
    patient index. Counting distinct staff for every patient sorted the whole month."""
    top = list(
        in_month.filter(patient__isnull=False)
        .values("patient")
        .annotate(n=Count("*"), worst=Max("severity"))
        .filter(n__gte=2)
        .annotate(total=Window(Count("*")))
        .order_by("-n", "-worst", "patient")[:TOP_REPEAT_PATIENTS]
    )
    if not top:
        return [], 0
    people = {
        item["patient"]: item
        for item in in_month.filter(patient__in=[item["patient"] for item in top])
        .values("patient")
        .annotate(staff=Count("reporter", distinct=True), units=Count("unit", distinct=True))
        .order_by()
    }
    return [{**item, **people[item["patient"]]} for item in top], top[0]["total"]


def _top(counts: list[Tally], limit: int, rest_label: str) -> list[Tally]:
    """The ``limit`` largest, and the rest totalled in one row, so a chart stays small."""
    if len(counts) <= limit:
        return counts
    rest = sum(item.count for item in counts[limit:])
    return [*counts[:limit], Tally(rest_label, rest)]


def _combined(usage: list[ScriptUsage], title: str) -> ScriptUsage | None:
    """The scripts outside the top ones, as one row."""
    if not usage:
        return None
    return ScriptUsage(
        script_id=0,
        title=title,
        used=sum(item.used for item in usage),
        accepted=sum(item.accepted for item in usage),
        asked_again=sum(item.asked_again for item in usage),
        escalated=sum(item.escalated for item in usage),
    )


def _pseudonym(rank: int) -> str:
    letters = string.ascii_uppercase
    return f"Patient {letters[rank]}" if rank < len(letters) else f"Patient {rank + 1}"


def _hour_zone(month: Month, zone: tzinfo) -> tzinfo:
    """The clock to cut ``month`` into hours by: UTC when the local clock is a whole
    number of hours from it throughout the month (each UTC hour is then one local hour),
    else the local clock itself. Converting every incident's time to the local clock in
    the database took 40 % of that query (180 ms against 115 ms for 100,000 incidents)."""
    moment, end, offsets = month.start.astimezone(UTC), month.end.astimezone(UTC), set()
    while moment < end:
        offsets.add(moment.astimezone(zone).utcoffset())
        moment += timedelta(hours=1)
    if all(offset % timedelta(hours=1) == timedelta(0) for offset in offsets):
        return UTC
    return zone


def monthly_summary(
    *,
    month: Month,
    unit: Unit | None = None,
    generated_by: str,
    now: datetime | None = None,
    reader_id: int | None = None,
) -> MonthlySummary:
    """The monthly summary's figures for ``month``, over one unit or the organisation.

    ``reader_id``: the person downloading it. What supervisors did in review about
    that person's own reports is left out of the review actions, as the CSV leaves it
    out of their rows: the app never shows a reporter what was done about their report.

    A fixed number of queries (fourteen for a unit, fifteen for the organisation)
    whatever the number of incidents: no incident row is loaded into Python.
    Figures about "now" (open items, overdue) are as at ``now``.
    """
    now = now or timezone.now()
    scope = Scope(unit)
    zone = timezone.get_default_timezone()
    scoped = scope.incidents()
    in_month = scoped.in_period(month.start, month.end)

    # The 12-month trend, and the same month a year earlier: one query, 13 counts, each
    # a count of one month's range of the index (UNION ALL). One scan of the 13 months
    # that tested each row against 13 ranges took twice as long (400,000 rows: 510 to
    # 750 ms against 210 to 330 ms).
    months = [month.shifted(offset) for offset in range(-12, 1)]
    counts = [
        scoped.in_period(m.start, m.end)
        .order_by()
        .values(index=Value(index, output_field=IntegerField()))
        .annotate(n=Count("*"))
        for index, m in enumerate(months)
    ]
    trend_rows = counts[0].union(*counts[1:], all=True).order_by("index")
    trend_counts = [row["n"] for row in trend_rows]

    own = Q(script_version__isnull=True)
    breakdowns = {
        **{
            f"response_{value}": Count("pk", filter=Q(person_response=value))
            for value in PersonResponse.values
        },
        **{
            f"own_{value}": Count("pk", filter=own & Q(person_response=value))
            for value in PersonResponse.values
        },
        **{f"flag_{name}": Count("pk", filter=Q(**{name: True})) for name, _ in REPORTER_ACTIONS},
        **{
            f"flag_{name}": Count("pk", filter=Q(**{name: True}) & ~Q(reporter_id=reader_id))
            if reader_id is not None
            else Count("pk", filter=Q(**{name: True}))
            for name, _ in REVIEW_ACTIONS
        },
    }
    # The key figures and the breakdowns by request type, channel and unit in one read
    # of the month: counted per (request type, channel, unit), at most a few thousand
    # groups, then added up here. One query per breakdown read the month four times.
    # Grouped by the ids, which the incident rows hold: joining the names in made
    # PostgreSQL look up three tables for every incident of the month (250 ms against
    # 160 ms for 100,000 incidents); the groups are named from the small tables below.
    groups = list(
        in_month.values("request_type", "channel", "unit")
        .annotate(
            incidents=Count("*"),
            high=Count("pk", filter=Q(severity=Severity.HIGH)),
            moderate=Count("pk", filter=Q(severity=Severity.MODERATE)),
            low=Count("pk", filter=Q(severity=Severity.LOW)),
            own_words=Count("pk", filter=own),
            reviewed=Count("pk", filter=Q(reviewed_at__isnull=False)),
            target_met=Count("pk", filter=Q(reviewed_at__lte=F("review_due_at"))),
            target_due=Count("pk", filter=Q(reviewed_at__isnull=False) | Q(review_due_at__lt=now)),
            **breakdowns,
        )
        .order_by()
    )
    totals = ("incidents", "high", "moderate", "low", "own_words", "reviewed", "target_met")
    row = {
        name: sum(group[name] for group in groups) for name in (*totals, "target_due", *breakdowns)
    }
    median = median_review_wait(in_month)
    top_repeats, repeat_total = _repeat_patients(in_month)
    repeat_patients = [
        RepeatPatient(
            pseudonym=_pseudonym(rank),
            incidents=item["n"],
            staff=item["staff"],
            units=item["units"],
            highest_severity=Severity(item["worst"]).label,
        )
        for rank, item in enumerate(top_repeats)
    ]
    by_request_type = _tally(groups, "request_type", _names(RequestType.objects, "name"))
    by_channel = _tally(groups, "channel", _names(Channel.objects, "name"))
    by_unit = None
    if scope.is_organisation:
        units = _names(Unit.objects, "code")
        by_unit = _top(_tally(groups, "unit", units), TOP_UNITS, "Other units")

    # Day of the week and hour of the day on the local clock, counted per hour (at most
    # 745 groups, which PostgreSQL hashes; grouping by weekday and hour made it sort the
    # month's rows: 435 ms for 100,000 incidents, 90 ms this way) and read on the local
    # clock here.
    weekdays, hours = [0] * 7, [0] * 24
    slots = TruncHour("occurred_at", tzinfo=_hour_zone(month, zone))
    for cell in in_month.annotate(slot=slots).values("slot").annotate(n=Count("*")):
        slot = timezone.localtime(cell["slot"], zone)
        weekdays[slot.isoweekday() - 1] += cell["n"]
        hours[slot.hour] += cell["n"]

    usage = list(usage_by_script(in_month).values())

    opened = Q(opened_at__gte=month.start, opened_at__lt=month.end)
    resolved = Q(resolved_at__gte=month.start, resolved_at__lt=month.end)
    unresolved = ~Q(status=AlertStatus.RESOLVED)
    # One count per index, each read from its index alone. Counted in one query, the
    # three needed every matching alert's row to tell them apart (50 ms at 100,000
    # incidents a month); unfiltered, every alert ever raised.
    alerts = {
        name: scope.alerts().filter(condition).count()
        for name, condition in (
            ("opened", opened),
            ("resolved", resolved),
            ("unresolved", unresolved),
        )
    }
    waiting = scoped.filter(status__in=[Status.SUBMITTED, Status.UNDER_REVIEW]).aggregate(
        unreviewed=Count("pk", filter=Q(status=Status.SUBMITTED)),
        under_review=Count("pk", filter=Q(status=Status.UNDER_REVIEW)),
        overdue=Count("pk", filter=Q(status=Status.SUBMITTED, review_due_at__lt=now)),
    )

    current = row["incidents"]
    figures = KeyFigures(
        incidents=current,
        previous_month=Comparison(months[-2], trend_counts[-2], current),
        year_earlier=Comparison(months[0], trend_counts[0], current),
        high_severity=row["high"],
        moderate_severity=row["moderate"],
        low_severity=row["low"],
        alerts_opened=alerts["opened"],
        alerts_resolved=alerts["resolved"],
        repeat_patients=repeat_total,
        reviewed=row["reviewed"],
        median_review=median,
        review_target_met=row["target_met"],
        review_target_due=row["target_due"],
        overdue_now=waiting["overdue"],
    )
    return MonthlySummary(
        month=month,
        scope=scope,
        generated_at=now,
        generated_by=generated_by,
        organisation_name=settings.BOUNDARIES["ORGANISATION_NAME"],
        figures=figures,
        trend=list(zip(months[1:], trend_counts[1:], strict=True)),
        by_request_type=by_request_type,
        by_channel=by_channel,
        by_unit=by_unit,
        by_weekday=[Tally(day, n) for day, n in zip(WEEKDAYS, weekdays, strict=True)],
        by_hour=[Tally(f"{hour:02d}", n) for hour, n in enumerate(hours)],
        responses=[
            Tally(label, row[f"response_{value}"]) for value, label in PersonResponse.choices
        ],
        scripts=usage[:TOP_SCRIPTS],
        other_scripts=_combined(
            usage[TOP_SCRIPTS:], f"Other scripts ({len(usage) - TOP_SCRIPTS})"
        ),
        own_words=ScriptUsage(
            script_id=0,
            title="Own words (no script)",
            used=row["own_words"],
            accepted=row[f"own_{PersonResponse.ACCEPTED}"],
            asked_again=row[f"own_{PersonResponse.ASKED_AGAIN}"],
            escalated=row[f"own_{PersonResponse.ESCALATED}"],
        ),
        reporter_actions=[Tally(label, row[f"flag_{name}"]) for name, label in REPORTER_ACTIONS],
        review_actions=[Tally(label, row[f"flag_{name}"]) for name, label in REVIEW_ACTIONS],
        review_actions_leave_out_own=reader_id is not None,
        repeat_patients=repeat_patients,
        open_items=OpenItems(
            unreviewed=waiting["unreviewed"],
            under_review=waiting["under_review"],
            overdue=waiting["overdue"],
            unresolved_alerts=alerts["unresolved"],
        ),
        time_zone=settings.TIME_ZONE,
    )


def generated_by_person(user: User) -> str:
    name = user.get_full_name() or user.get_username()
    return f"{name} ({user.get_role_display()})"


def render_monthly_summary(
    summary: MonthlySummary, *, request: HttpRequest | None = None
) -> bytes:
    """The summary as a tagged PDF of a few pages, with its charts."""
    from incidents import charts

    summary.charts = charts.monthly_charts(summary)
    return render_pdf(
        "incidents/reports/monthly_pdf.html",
        {"summary": summary, "figures": summary.figures},
        request=request,
        title=summary.title,
        author=summary.organisation_name,
    )


# --- The evidence log -------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceEntry:
    """One incident of the evidence log, with its times written out in full."""

    incident: Incident
    happened: str
    filed: str
    supervisor_told_at: str
    feedback_at: str
    addenda: list[tuple[str, Addendum]]

    @classmethod
    def of(cls, incident: Incident) -> EvidenceEntry:
        return cls(
            incident=incident,
            happened=exact_time(incident.occurred_at),
            filed=exact_time(incident.submitted_at),
            supervisor_told_at=exact_time(incident.supervisor_told_at),
            feedback_at=exact_time(incident.feedback_at),
            addenda=[
                (exact_time(addendum.created_at, seconds=True), addendum)
                for addendum in incident.addenda.all()
            ],
        )


@dataclass
class EvidenceLog:
    """A reporter's own incidents, oldest first, for the police or a regulator."""

    reporter: User
    first_day: date | None
    last_day: date | None
    generated_at: datetime
    entries: list[EvidenceEntry]
    organisation_name: str
    time_zone: str

    @property
    def incidents(self) -> list[Incident]:
        return [entry.incident for entry in self.entries]

    @property
    def generated_at_text(self) -> str:
        return exact_time(self.generated_at, seconds=True)

    @property
    def reporter_name(self) -> str:
        return self.reporter.get_full_name() or self.reporter.get_username()

    @property
    def title(self) -> str:
        return f"Evidence log: incidents recorded by {self.reporter_name}"

    @property
    def filename(self) -> str:
        first = f"{self.first_day:%Y-%m-%d}" if self.first_day else "start"
        # Open-ended, the log covers up to the local day it was drawn on (not UTC's).
        last = self.last_day or timezone.localtime(self.generated_at).date()
        return f"boundaries-evidence-log-{first}-to-{last:%Y-%m-%d}.pdf"


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def evidence_log(
    *,
    reporter: User,
    first_day: date | None = None,
    last_day: date | None = None,
    now: datetime | None = None,
) -> EvidenceLog:
    """The reporter's own incidents that occurred between two local dates (inclusive;
    either may be open), with their witnesses and addenda: three queries however many
    incidents. Raises TooManyIncidents past ``EVIDENCE_LOG_LIMIT``."""
    incidents = Incident.objects.reported_by(reporter)
    if first_day is not None:
        incidents = incidents.filter(occurred_at__gte=_local_midnight(first_day))
    if last_day is not None:
        incidents = incidents.filter(occurred_at__lt=_local_midnight(last_day + timedelta(days=1)))
    rows = list(
        incidents.select_related(
            "unit", "request_type", "channel", "script_version", "supervisor_told"
        )
        .prefetch_related(
            "witnesses", Prefetch("addenda", queryset=Addendum.objects.select_related("author"))
        )
        .order_by("occurred_at", "id")[: EVIDENCE_LOG_LIMIT + 1]
    )
    if len(rows) > EVIDENCE_LOG_LIMIT:
        raise TooManyIncidents(len(rows))
    if sum(_text_length(incident) for incident in rows) > EVIDENCE_LOG_TEXT_LIMIT:
        raise TooManyIncidents(len(rows), too_much_text=True)
    return EvidenceLog(
        reporter=reporter,
        first_day=first_day,
        last_day=last_day,
        generated_at=now or timezone.now(),
        entries=[EvidenceEntry.of(incident) for incident in rows],
        organisation_name=settings.BOUNDARIES["ORGANISATION_NAME"],
        time_zone=settings.TIME_ZONE,
    )


def _text_length(incident: Incident) -> int:
    """The free text an incident brings to the evidence log."""
    return (
        len(incident.description)
        + len(incident.words_used)
        + len(incident.feedback)
        + len(incident.late_reason)
        + len(incident.location)
        + sum(len(addendum.text) for addendum in incident.addenda.all())
        + sum(len(w.name) + len(w.contact) for w in incident.witnesses.all())
    )


def render_evidence_log(log: EvidenceLog, *, request: HttpRequest | None = None) -> bytes:
    return render_pdf(
        "incidents/reports/evidence_pdf.html",
        {"log": log},
        request=request,
        title=log.title,
        author=log.reporter_name,
    )
