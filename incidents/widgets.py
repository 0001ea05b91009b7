"""Date and time inputs whose value is always one HTML allows there.

A browser's date, time and date-time fields send values in one format. Something else
arrives only from a hand-edited address or an old browser showing a text box; the form
still says what is wrong next to the field, but the field is drawn empty rather than with
a value that is not HTML (the Nu Html Checker rejects it, and browsers ignore it).
"""

from __future__ import annotations

import re
from datetime import datetime

from django import forms

# How many digits HTML wants for each part (years: at least four).
_DIGITS = {
    "%Y": r"\d{4,}",
    "%m": r"\d{2}",
    "%d": r"\d{2}",
    "%H": r"\d{2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
}


def html_value(text: str | None, formats: tuple[str, ...]) -> str | None:
    """``text`` if it is a value HTML allows in one of ``formats``, else None."""
    if not text:
        return text
    for pattern in formats:
        shape = pattern
        for part, digits in _DIGITS.items():
            shape = shape.replace(part, digits)
        if not re.fullmatch(shape, text):
            continue
        try:
            datetime.strptime(text, pattern)
        except ValueError:
            continue
        return text
    return None


class _HtmlValue:
    formats: tuple[str, ...] = ()

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs, format=self.formats[0])

    def format_value(self, value):
        return html_value(super().format_value(value), self.formats)


class DateInput(_HtmlValue, forms.DateInput):
    input_type = "date"
    formats = ("%Y-%m-%d",)


class TimeInput(_HtmlValue, forms.TimeInput):
    input_type = "time"
    formats = ("%H:%M", "%H:%M:%S")


class DateTimeInput(_HtmlValue, forms.DateTimeInput):
    input_type = "datetime-local"
    formats = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
