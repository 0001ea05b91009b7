"""Template filters for showing moments exactly."""

from django import template

from incidents import local_time

register = template.Library()


@register.filter
def exact_time(value, style: str = ""):
    """Weekday, date, local time, zone and offset: unambiguous even in the hour that
    happens twice when the clocks go back (where Django's date filter drops the zone).
    ``exact_time:"short"``: date, time and zone, for lists and tables."""
    return local_time.exact_time(value, short=style == "short")
