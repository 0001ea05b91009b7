"""Turning a local date and time, as a person types it, into one exact instant.

Twice a year a local time is not one instant. When the clocks go back, 01:30 happens
twice (first in summer time, then in winter time); when they go forward, 01:30 never
happens at all. Rather than refuse such a time, the form asks which instant was meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils import timezone

EARLIER = "earlier"
LATER = "later"

# How far ahead of the server's clock a typed time may be (a phone's clock runs fast):
# no incident, and no time the supervisor was told, is later than now plus this.
CLOCK_SKEW = timedelta(minutes=5)

# The first day anything recorded here can have happened on, and reports start. Dates
# typed far outside it (year 1, year 9999) are mistakes, and near the ends of the
# calendar they overflow when moved between time zones.
EARLIEST_DAY = date(2000, 1, 1)
TOO_EARLY = "Give a date from 1 January 2000 onwards."


def not_too_early(value: date | datetime) -> None:
    """A form validator: ``value`` is on or after ``EARLIEST_DAY``."""
    day = value.date() if isinstance(value, datetime) else value
    if day < EARLIEST_DAY:
        raise ValidationError(TOO_EARLY, code="too_early")


@dataclass(frozen=True)
class ClockChange:
    """A local time that needs a choice: the two instants it could mean."""

    ambiguous: bool  # True: it happened twice; False: it never happened
    earlier: datetime
    later: datetime

    def choices(self) -> list[tuple[str, str]]:
        return [(EARLIER, describe(self.earlier)), (LATER, describe(self.later))]

    def explanation(self, naive: datetime) -> str:
        when = f"{naive:%H:%M} on {naive.day} {naive:%B %Y}"
        if self.ambiguous:
            return (
                f"The clocks went back that night, so {when} happened twice. "
                "Choose which one you mean."
            )
        return (
            f"The clocks went forward that night, so {when} did not exist. "
            "Choose the time you mean."
        )


def describe(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%H:%M} {local.tzname()}"


def clock_change(day: date, moment: time, zone: ZoneInfo | None = None) -> ClockChange | None:
    """None when the local time is one ordinary instant; otherwise the two readings."""
    zone = zone or timezone.get_current_timezone()
    naive = datetime.combine(day, moment)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    instants = sorted([first.astimezone(UTC), second.astimezone(UTC)])
    round_trips = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive
    return ClockChange(ambiguous=round_trips, earlier=instants[0], later=instants[1])


def to_instant(
    day: date, moment: time, choice: str = "", zone: ZoneInfo | None = None
) -> datetime | ClockChange:
    """The aware instant for a local date and time, or the ClockChange that needs a
    choice (when ``choice`` is not EARLIER or LATER)."""
    zone = zone or timezone.get_current_timezone()
    change = clock_change(day, moment, zone)
    if change is None:
        return datetime.combine(day, moment).replace(tzinfo=zone)
    if choice == EARLIER:
        return change.earlier
    if choice == LATER:
        return change.later
    return change


def exact_time(moment: datetime | None, *, seconds: bool = False, short: bool = False) -> str:
    """A moment as a person, or a court, reads it: weekday, date, local time, and the
    zone's abbreviation and offset, for example "Sunday 25 October 2026, 01:30 BST
    (UTC+01:00)". Django's date filter leaves the zone out in the hour that happens twice
    when the clocks go back, which is exactly when it tells the two apart. ``short``:
    for lists and tables, "25 Oct 2026, 01:30 BST" (the zone's abbreviation is enough
    to tell the two apart)."""
    if moment is None:
        return ""
    local = moment.astimezone(timezone.get_default_timezone())
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    if short:
        return f"{local.day} {local:%b %Y}, {clock} {local.tzname()}"
    offset = f"{local:%z}"
    return (
        f"{local:%A} {local.day} {local:%B %Y}, {clock} {local.tzname()} "
        f"(UTC{offset[:3]}:{offset[3:]})"
    )
