"""The month's incidents as CSV, streamed row by row so memory stays flat however many
there are.

By default the file carries no free text and no patient reference: no description, no
words used, no location. A supervisor may ask for those for their own units
(``include_details``); the view decides who may.

The file is UTF-8 with a byte-order mark, which spreadsheet programs take as the sign to
read it as UTF-8. Any cell that a spreadsheet would read as a formula (one beginning
with =, +, -, @, a tab or a carriage return) is prefixed with a single quote, so that a
description such as ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from incidents.models import (
    REVIEW_ACTIONS,
    Incident,
    OtherParty,
    PersonResponse,
    Severity,
    Status,
)
from incidents.reports import REPORTER_ACTIONS

if TYPE_CHECKING:
    from django.db.models import QuerySet

BOM = "\ufeff"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 1000

COLUMNS = [
    "Reference",
    "Occurred at",
    "Filed at",
    "Unit",
    "Request type",
    "Channel",
    "Other party",
    "Severity",
    "Status",
    "Script",
    "Script version",
    "Person's response",
    "Actions by the reporter",
    "Review due",
    "First reviewed",
    "Closed",
    "Actions by supervisors",
]
DETAIL_COLUMNS = ["Location", "Patient reference", "Description", "Words used"]

_FIELDS = [
    "id",
    "reporter_id",
    "occurred_at",
    "submitted_at",
    "unit__code",
    "request_type__name",
    "channel__name",
    "other_party",
    "severity",
    "status",
    "script_version__title",
    "script_version__number",
    "person_response",
    "review_due_at",
    "reviewed_at",
    "closed_at",
    *(name for name, _ in REPORTER_ACTIONS),
    *(name for name, _ in REVIEW_ACTIONS),
]
_DETAIL_FIELDS = ["location", "patient__reference", "description", "words_used"]


def neutralise(value: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula."""
    if value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def local_iso(moment: datetime | None) -> str:
    """An instant as local ISO 8601 with its offset (2026-10-31T23:30:00+00:00)."""
    if moment is None:
        return ""
    return timezone.localtime(moment, timezone.get_default_timezone()).isoformat(
        timespec="seconds"
    )


def _labels(row: dict, actions: list[tuple[str, str]]) -> str:
    return "; ".join(label for name, label in actions if row[name])


def _cells(row: dict, *, include_details: bool, exporter_id: int | None = None) -> list[str]:
    # An unsaved instance only to format the reference exactly as the app shows it.
    reference = Incident(pk=row["id"], submitted_at=row["submitted_at"]).reference
    script = row["script_version__title"]
    cells = [
        reference,
        local_iso(row["occurred_at"]),
        local_iso(row["submitted_at"]),
        row["unit__code"],
        row["request_type__name"],
        row["channel__name"],
        OtherParty(row["other_party"]).label,
        Severity(row["severity"]).label,
        Status(row["status"]).label,
        script or "Own words",
        str(row["script_version__number"]) if script else "",
        PersonResponse(row["person_response"]).label,
        _labels(row, REPORTER_ACTIONS),
        local_iso(row["review_due_at"]),
        local_iso(row["reviewed_at"]),
        local_iso(row["closed_at"]),
        # What supervisors did about a report is not shown to its reporter, in the app or
        # here (a supervisor exporting their unit's month may have reported some of it).
        "" if row["reporter_id"] == exporter_id else _labels(row, REVIEW_ACTIONS),
    ]
    if include_details:
        cells += [
            row["location"],
            row["patient__reference"] or "",
            row["description"],
            row["words_used"],
        ]
    return [neutralise(cell) for cell in cells]


class _Line:
    """A file-like object that hands back what the csv writer writes to it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(
    incidents: QuerySet[Incident],
    *,
    include_details: bool = False,
    exporter_id: int | None = None,
) -> Iterator[str]:
    """The CSV, one line at a time: the byte-order mark and header, then one row per
    incident, read from the database in chunks. Rows ``exporter_id`` reported leave out
    what supervisors did about them."""
    writer = csv.writer(_Line())
    header = COLUMNS + (DETAIL_COLUMNS if include_details else [])
    yield BOM + writer.writerow(header)
    fields = _FIELDS + (_DETAIL_FIELDS if include_details else [])
    rows: Iterable[dict] = (
        incidents.order_by("occurred_at", "id").values(*fields).iterator(chunk_size=CHUNK_SIZE)
    )
    for row in rows:
        yield writer.writerow(
            _cells(row, include_details=include_details, exporter_id=exporter_id)
        )
