"""A reporter's own evidence log: only their incidents, everything said and done, exact
times, and nothing typed into an incident can make the PDF read a file."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from boundaries.models import AuditEvent
from incidents import reports
from incidents.models import Addendum
from tests.factories import IncidentFactory, ScriptFactory, UserFactory, WitnessFactory

PDF_URL = "/incidents/evidence.pdf"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def filed(*, occurred_at=None, **fields):
    occurred_at = occurred_at or utc(2026, 10, 14, 9, 15)
    return IncidentFactory(
        occurred_at=occurred_at,
        submitted_at=occurred_at + timedelta(minutes=40),
        review_due_at=occurred_at + timedelta(days=3),
        **fields,
    )


def addendum(incident, text: str, at: datetime) -> Addendum:
    added = Addendum.objects.create(incident=incident, author=incident.reporter, text=text)
    Addendum.objects.filter(pk=added.pk).update(created_at=at)
    return added


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_page_offers_all_or_a_range_of_dates(nurse_client):
    page = nurse_client.get("/incidents/evidence/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'action="/incidents/evidence.pdf"' in html
    assert 'name="from"' in html
    assert 'name="to"' in html


def test_my_incidents_links_to_the_evidence_log(nurse_client):
    assert 'href="/incidents/evidence/"' in nurse_client.get("/incidents/").content.decode()


def test_a_reporter_downloads_their_own_record_with_everything_said_and_done(
    nurse_client, nurse, supervisor, other_unit_nurse, caplog
):
    script = ScriptFactory(version__title="Our policy on personal numbers")
    mine = filed(
        reporter=nurse,
        occurred_at=utc(2026, 10, 25, 0, 30),  # 01:30 BST, before the clocks went back
        location="Bay 4, by the window",
        description="He said he would wait for me by my car after the shift.",
        words_used="Please stop. I'm ending this conversation and calling my supervisor.",
        script_version=script.current_version,
        called_supervisor=True,
        supervisor_told=supervisor,
        supervisor_told_at=utc(2026, 10, 25, 1, 10),  # 01:10 GMT
    )
    WitnessFactory(incident=mine, name="Dee Rosevear", role="staff", contact="Ext 4412")
    addendum(mine, "He was in the car park again the next evening.", utc(2026, 10, 26, 19, 5, 7))
    later = filed(reporter=nurse, occurred_at=utc(2026, 11, 2, 14, 0))
    theirs = filed(reporter=other_unit_nurse, description="Someone else's incident")

    response = nurse_client.get(PDF_URL)

    assert response.status_code == 200
    assert [r for r in caplog.records if r.name == "weasyprint" and r.levelname != "INFO"] == []
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="boundaries-evidence-log-start-to-'
    )
    assert "no-store" in response["Cache-Control"]
    reader = PdfReader(io.BytesIO(response.content))
    assert reader.metadata.title == f"Evidence log: incidents recorded by {nurse.get_full_name()}"
    text = squeezed(pdf_text(response.content))
    for expected in (
        mine.reference,
        later.reference,
        # Both 01:30 BST and 01:10 GMT happened that night: the zone tells them apart.
        "Happened Sunday 25 October 2026, 01:30 BST (UTC+01:00)",
        "Filed Sunday 25 October 2026, 01:10 GMT (UTC+00:00)",
        "Bay4,bythewindow",
        "Hesaidhewouldwaitformebymycaraftertheshift.",
        "Pleasestop.I'mendingthisconversationandcallingmysupervisor.",
        '"Ourpolicyonpersonalnumbers",version1',
        "DeeRosevear(staff),Ext4412",
        f"{supervisor.get_full_name()}, Sunday 25 October 2026, 01:10 GMT (UTC+00:00)",
        f"Monday 26 October 2026, 19:05:07 GMT (UTC+00:00), {nurse.get_full_name()}",
        "Hewasinthecarparkagainthenextevening.",
        "own record",
        "Calledthesupervisor",
    ):
        assert squeezed(expected) in text, expected
    assert theirs.reference not in text
    assert mine.patient.reference not in text
    event = AuditEvent.objects.get(action="evidence.exported")
    assert (event.actor, event.unit) == (nurse, None)


def test_a_range_of_local_dates_includes_both_days_and_nothing_outside(nurse):
    before = filed(reporter=nurse, occurred_at=utc(2026, 9, 30, 22, 30))  # 23:30 BST, 30 Sep
    first = filed(reporter=nurse, occurred_at=utc(2026, 9, 30, 23, 30))  # 00:30 BST, 1 Oct
    last = filed(reporter=nurse, occurred_at=utc(2026, 10, 31, 23, 30))  # 23:30 GMT, 31 Oct
    after = filed(reporter=nurse, occurred_at=utc(2026, 11, 1, 0, 30))  # 00:30 GMT, 1 Nov

    log = reports.evidence_log(
        reporter=nurse, first_day=date(2026, 10, 1), last_day=date(2026, 10, 31)
    )

    assert list(log.incidents) == [first, last]
    assert log.filename == "boundaries-evidence-log-2026-10-01-to-2026-10-31.pdf"
    open_start = reports.evidence_log(reporter=nurse, last_day=date(2026, 9, 30))
    assert list(open_start.incidents) == [before]
    open_end = reports.evidence_log(reporter=nurse, first_day=date(2026, 11, 1))
    assert list(open_end.incidents) == [after]


def test_an_open_ended_log_is_named_after_the_local_day_it_covers_up_to(nurse):
    """Drawn at 00:40 BST on 1 July, the log holds that day's 00:05 incident: its name
    says 1 July, not UTC's 30 June (found by review)."""
    just_after_midnight = filed(reporter=nurse, occurred_at=utc(2026, 6, 30, 23, 5))

    log = reports.evidence_log(reporter=nurse, now=utc(2026, 6, 30, 23, 40))

    assert log.incidents == [just_after_midnight]
    assert log.filename == "boundaries-evidence-log-start-to-2026-07-01.pdf"


def test_the_log_reads_its_rows_in_three_queries_however_many_incidents(nurse):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            log = reports.evidence_log(reporter=nurse)
            seen = [
                (
                    list(incident.witnesses.all()),
                    [item.author for item in incident.addenda.all()],
                    incident.unit,
                    incident.request_type,
                    incident.channel,
                    incident.script_version,
                    incident.supervisor_told,
                )
                for incident in log.incidents
            ]
        assert len(seen) == len(log.incidents)
        return len(captured)

    first = filed(reporter=nurse)
    WitnessFactory(incident=first)
    addendum(first, "More", utc(2026, 10, 15, 9, 0))
    one = queries()
    for day in range(19):
        incident = filed(reporter=nurse, occurred_at=utc(2026, 10, 1 + day, 9, 0))
        WitnessFactory(incident=incident)
        addendum(incident, "More", utc(2026, 10, 20, 9, 0))
    assert queries() == one == 3


def test_too_many_incidents_asks_for_a_shorter_range(nurse_client, nurse, monkeypatch):
    monkeypatch.setattr(reports, "EVIDENCE_LOG_LIMIT", 3)
    for day in range(4):
        filed(reporter=nurse, occurred_at=utc(2026, 10, 1 + day, 9, 0))

    response = nurse_client.get(PDF_URL, {"from": "2026-10-01", "to": "2026-10-31"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "more than 3 of your incidents" in html
    assert 'value="2026-10-01"' in html
    # The error summary links to the range's first field (a screen-reader review).
    assert '<a href="#id_from">From: Those dates hold more than 3' in html
    assert nurse_client.get(PDF_URL, {"to": "2026-10-03"}).status_code == 200
    assert AuditEvent.objects.filter(action="evidence.exported").count() == 1


def test_too_much_writing_for_one_log_asks_for_a_shorter_range(nurse_client, nurse):
    # Found by a review helper: 200 reports at the forms' longest took over a minute to
    # lay out, past gunicorn's 30 s: the reporter got no document at all.
    long = "He said he had seen my car in the staff car park and would wait for me. " * 70
    first = filed(reporter=nurse, occurred_at=utc(2026, 10, 1, 9, 0), description=long[:5000])
    per_report = reports._text_length(first)
    enough = reports.EVIDENCE_LOG_TEXT_LIMIT // per_report
    for day in range(1, enough + 1):
        filed(
            reporter=nurse, occurred_at=utc(2026, 10, 1 + day % 28, 9, 0), description=long[:5000]
        )
    response = nurse_client.get(PDF_URL, {"from": "2026-10-01", "to": "2026-10-31"})
    assert response.status_code == 400
    assert "with more writing than one evidence log can hold" in response.content.decode()
    response = nurse_client.get(PDF_URL, {"from": "2026-10-01", "to": "2026-10-10"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-10-31", "to": "2026-10-01"}, "The last day comes before the first"),
        ({"from": "31st October"}, "Enter a valid date"),
        ({"to": "9999-12-31"}, "That date is still to come"),  # once a server error
        ({"from": "0001-01-01"}, "Give a date from 1 January 2000 onwards"),
    ],
)
def test_dates_that_make_no_sense_are_explained(nurse_client, query, message):
    response = nurse_client.get(PDF_URL, query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_administrators_have_no_evidence_log(administrator_client):
    assert administrator_client.get("/incidents/evidence/").status_code == 403
    assert administrator_client.get(PDF_URL).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(PDF_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_markup_typed_into_an_incident_is_printed_as_text_and_fetches_nothing(
    nurse_client, nurse, tmp_path
):
    hostile = (
        '<img src="file:///etc/passwd"> '
        '<link rel="attachment" href="file:///etc/hosts"> '
        '<img src="http://127.0.0.1:9/tracker.png">'
    )
    long_word = "x" * 400
    filed(
        reporter=nurse,
        description=f"{hostile} {long_word}",
        words_used="</style><style>@page { background: url(file:///etc/passwd) }</style>",
        location="y" * 120,
    )
    WitnessFactory(incident=nurse.incidents.get(), name='<link rel="attachment" href="/etc">')

    response = nurse_client.get(PDF_URL)

    assert response.status_code == 200
    output = tmp_path / "evidence.pdf"
    output.write_bytes(response.content)
    # A fixed program on a file this test wrote.
    listing = subprocess.run(  # noqa: S603
        ["/usr/bin/qpdf", "--list-attachments", str(output)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "has no embedded files" in listing
    assert PdfReader(io.BytesIO(response.content)).attachments == {}
    text = squeezed(pdf_text(response.content))
    assert squeezed(hostile) in text
    assert squeezed("<style>@page{background:url(file:///etc/passwd)}</style>") in text
    assert squeezed('<link rel="attachment" href="/etc">') in text
    # Long words wrap onto several lines instead of being cut off.
    assert long_word in text
    assert "y" * 120 in text
    assert b"root:" not in response.content


def test_the_evidence_log_is_offered_to_every_role_that_files(
    supervisor_client, manager_client, supervisor
):
    for client in (supervisor_client, manager_client):
        assert client.get("/incidents/evidence/").status_code == 200
    colleague = UserFactory(units=[supervisor.units.first()])
    filed(reporter=colleague, description="A colleague's incident")
    text = pdf_text(supervisor_client.get(PDF_URL).content)
    assert "colleague" not in text
    assert "No incidents recorded" in text
