"""/reports/ and its downloads: who may see what, the PDF read back from its own text,
the cron command, and WeasyPrint never reaching a file or the network."""

from __future__ import annotations

import io
import re
import smtplib
import subprocess

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from boundaries import pdf
from boundaries.models import AuditEvent, Role
from incidents.models import Patient, QueuedEmail
from incidents.reports import Month
from tests.conftest import client_for
from tests.factories import IncidentFactory, UnitFactory, UserFactory
from tests.incidents.test_notifications import relay_back, relay_down
from tests.incidents.test_reports import build_october, incident, utc

PDF_URL = "/reports/monthly.pdf"


@pytest.fixture
def october(nurse, other_unit_nurse):
    return build_october(nurse=nurse, other_unit_nurse=other_unit_nurse)


def squeezed(text: str) -> str:
    """Text with all whitespace removed: the PDF may wrap lines anywhere."""
    return re.sub(r"\s+", "", text)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def attachments(path) -> str:
    # A fixed program on a file this test wrote.
    result = subprocess.run(  # noqa: S603
        ["/usr/bin/qpdf", "--list-attachments", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


# --- The reports page --------------------------------------------------------------------


def test_the_page_shows_the_months_key_figures_and_download_links(manager_client, october):
    page = manager_client.get("/reports/?month=2026-10")
    assert page.status_code == 200
    assert page.context["figures"].incidents == 5
    html = page.content.decode()
    assert "October 2026: Whole organisation" in html
    assert 'href="/reports/monthly.pdf?month=2026-10"' in html
    assert 'href="/reports/incidents.csv?month=2026-10"' in html
    assert "7.5 hours" in html
    assert "no-store" in page["Cache-Control"]


def test_the_first_month_reports_cover_offers_no_month_before_it(manager_client, db):
    """The month before January 2000 is refused (a 400): no link leads there (found by
    review)."""
    first = manager_client.get("/reports/?month=2000-01").content.decode()
    assert "Previous month" not in first and "Next month" in first
    assert "Previous month" in manager_client.get("/reports/?month=2000-02").content.decode()


def test_the_page_defaults_to_last_month(manager_client, db):
    page = manager_client.get("/reports/")
    assert page.status_code == 200
    assert page.context["month"] == Month.last_completed()


def test_a_manager_can_look_at_one_unit(manager_client, october, unit):
    page = manager_client.get("/reports/?month=2026-10&unit=WARD-A")
    assert page.context["figures"].incidents == 4
    assert 'href="/reports/monthly.pdf?month=2026-10&amp;unit=WARD-A"' in page.content.decode()


def test_supervisors_see_their_own_unit_by_default_and_no_organisation_choice(
    supervisor_client, october, other_unit
):
    page = supervisor_client.get("/reports/?month=2026-10")
    assert page.context["scope"].unit.code == "WARD-A"
    assert page.context["figures"].incidents == 4
    html = page.content.decode()
    assert "Whole organisation" not in html
    assert 'value="WARD-B"' not in html
    assert 'name="details"' in html


def test_a_supervisor_of_no_unit_yet_is_told_so(db):
    client = client_for(UserFactory(role=Role.SUPERVISOR))
    page = client.get("/reports/")
    assert page.status_code == 200
    assert "You do not supervise any unit yet" in page.content.decode()
    assert "summary" not in page.context
    assert client.get(f"{PDF_URL}?month=2026-10").status_code == 403


def test_a_supervisor_of_another_unit_gets_404_for_a_unit_they_do_not_supervise(
    other_unit_supervisor_client, unit
):
    for url in (
        "/reports/?unit=WARD-A",
        f"{PDF_URL}?month=2026-10&unit=WARD-A",
        "/reports/incidents.csv?month=2026-10&unit=WARD-A",
        "/reports/?unit=NO-SUCH-UNIT",
    ):
        assert other_unit_supervisor_client.get(url).status_code == 404, url


def test_a_unit_code_typed_in_lower_case_names_the_same_unit(supervisor_client, october):
    """Codes are stored in capitals; an address typed by hand may not be."""
    page = supervisor_client.get("/reports/?month=2026-10&unit=ward-a")
    assert page.status_code == 200
    assert page.context["scope"].unit.code == "WARD-A"
    assert page.context["figures"].incidents == 4
    # The page's own links name the unit as it is stored.
    assert 'href="/reports/monthly.pdf?month=2026-10&amp;unit=WARD-A"' in page.content.decode()
    for url in (f"{PDF_URL}?month=2026-10&unit=Ward-A", "/reports/incidents.csv?unit=ward-a"):
        response = supervisor_client.get(url)
        assert response.status_code == 200, url
        assert "WARD-A" in response["Content-Disposition"], url


def test_a_unit_in_lower_case_is_still_only_for_those_who_report_on_it(
    other_unit_supervisor_client, manager_client, unit
):
    for url in (
        "/reports/?unit=ward-a",
        f"{PDF_URL}?month=2026-10&unit=ward-a",
        "/reports/incidents.csv?month=2026-10&unit=ward-a",
        "/reports/?unit=no-such-unit",
    ):
        assert other_unit_supervisor_client.get(url).status_code == 404, url
    assert manager_client.get("/reports/?unit=no-such-unit").status_code == 404
    # Only ASCII letters are put in capitals: "ß".upper() is "SS", another unit's code.
    UnitFactory(code="SS", name="Short stay")
    assert manager_client.get("/reports/?unit=%C3%9F").status_code == 404


def test_supervisors_cannot_download_the_organisations_report(supervisor_client):
    assert supervisor_client.get(f"{PDF_URL}?month=2026-10").status_code == 403
    assert supervisor_client.get("/reports/incidents.csv?month=2026-10").status_code == 403
    refused = AuditEvent.objects.filter(action="permission.refused")
    assert refused.count() == 2


@pytest.mark.parametrize("url", ["/reports/", PDF_URL, "/reports/incidents.csv"])
def test_reporters_get_403(nurse_client, url):
    assert nurse_client.get(url).status_code == 403


@pytest.mark.parametrize("url", ["/reports/", PDF_URL, "/reports/incidents.csv"])
def test_anonymous_visitors_are_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", ["/reports/", PDF_URL, "/reports/incidents.csv"])
def test_posting_is_not_allowed(manager_client, url):
    assert manager_client.post(url).status_code == 405


@pytest.mark.parametrize("month", ["2026-13", "October", "2026-1", "99999-01", "2999-01"])
def test_a_malformed_month_gets_a_clear_400(manager_client, month):
    page = manager_client.get("/reports/", {"month": month})
    assert page.status_code == 400
    assert "is-invalid" in page.content.decode()
    # What was typed is quoted in the message; the month field holds only a month HTML
    # allows (a value it refuses fails the Nu Html Checker).
    kept = f'value="{month}"' if month == "2999-01" else f"You typed “{month}”"
    assert kept in page.content.decode()
    for url in (PDF_URL, "/reports/incidents.csv"):
        response = manager_client.get(url, {"month": month})
        assert response.status_code == 400
        assert b"Check the month" in response.content
    assert not AuditEvent.objects.filter(action__in=["report.exported", "csv.exported"]).exists()


def test_the_page_runs_the_same_queries_for_1_or_50_incidents(manager_client, nurse):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get("/reports/?month=2026-10").status_code == 200
        return len(captured)

    incident(reporter=nurse, occurred_at=utc(2026, 10, 3, 9, 0))
    manager_client.get("/reports/?month=2026-10")
    one = count()
    for day in range(49):
        incident(reporter=nurse, occurred_at=utc(2026, 10, 1 + day % 28, 9, 0))
    assert count() == one


# --- The PDF -------------------------------------------------------------------------------


def test_a_manager_downloads_the_organisations_month_as_a_pdf_with_its_figures(
    manager_client, manager, october
):
    response = manager_client.get(f"{PDF_URL}?month=2026-10")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="boundaries-monthly-2026-10-organisation.pdf"'
    )
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="report.exported")
    assert (event.actor, event.unit) == (manager, None)
    assert (event.object_type, event.object_id) == ("month", "2026-10")

    reader = PdfReader(io.BytesIO(response.content))
    assert reader.metadata.title == (
        "Boundaries monthly summary: October 2026, Whole organisation"
    )
    assert reader.metadata.author == "Boundaries demo trust"
    assert 2 <= len(reader.pages) <= 6
    text = squeezed(pdf_text(response.content))
    for expected in (
        "Monthlysummary:October2026",
        "Generatedby",
        "(Manager)",
        "5Incidents",
        "September2026:2(+3,+150%)",
        "October2025:1(+4,+400%)",
        "2Highseverity",
        "2Patientswithrepeatincidents",
        "7.5hoursMediantimetoreview",
        "60%Reviewedwithintarget",
        "3of5",
        "2Overduenow",
        # Used, accepted, asked again, escalated.
        "Ourpolicyonpersonalnumbers2110",
        "Ownwords(noscript)2101",
        # Incidents, staff reporting, units, highest severity.
        "PatientA322High",
        "PatientB211Moderate",
        "Page1of",
    ):
        assert expected in text, expected
    for patient in Patient.objects.all():
        assert patient.reference not in text
        assert patient.public_id.hex[:8] not in text


def figures_alternative_texts(element) -> list[str]:
    """The /Alt of every Figure in a tagged PDF's structure tree."""
    element = element.get_object()
    if isinstance(element, list):
        return [text for child in element for text in figures_alternative_texts(child)]
    if not hasattr(element, "get"):
        return []
    found = [str(element["/Alt"])] if element.get("/S") == "/Figure" else []
    if "/K" in element:
        found += figures_alternative_texts(element["/K"])
    return found


def test_the_pdf_is_tagged_with_a_language_and_charts_with_alternative_text(
    manager_client, october, caplog
):
    content = manager_client.get(f"{PDF_URL}?month=2026-10").content
    # WeasyPrint logs what PDF/UA lacks (a language, alternative text) and what it
    # could not fetch or understand: nothing, for this document.
    complaints = [r for r in caplog.records if r.name == "weasyprint" and r.levelname != "INFO"]
    assert complaints == []
    catalog = PdfReader(io.BytesIO(content)).trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert catalog["/Lang"] == "en-GB"
    texts = figures_alternative_texts(catalog["/StructTreeRoot"])
    assert len(texts) == 6  # trend, request type, channel, unit, day, hour
    assert texts[0].startswith("Incidents per month over the last 12 months. Nov 25: 0;")
    assert texts[0].endswith("Sep 26: 2; Oct 26: 5.")
    assert any(
        text.startswith("Incidents by hour of the day (local time). 00: 1; 01: 2;")
        for text in texts
    )


def test_a_units_pdf_is_named_after_the_unit(supervisor_client, supervisor, october, unit):
    response = supervisor_client.get(f"{PDF_URL}?month=2026-10&unit=WARD-A")
    assert response["Content-Disposition"] == (
        'attachment; filename="boundaries-monthly-2026-10-WARD-A.pdf"'
    )
    event = AuditEvent.objects.get(action="report.exported")
    assert (event.actor, event.unit) == (supervisor, unit)
    text = squeezed(pdf_text(response.content))
    assert "4Incidents" in text
    assert "WardA(WARD-A)" in text


def test_a_supervisors_pdf_leaves_out_what_was_done_about_their_own_reports(
    supervisor_client, supervisor, unit, tmp_path
):
    # Found by two review helpers: the CSV leaves "Actions by supervisors" out of the
    # downloader's own rows, and the unit's PDF counted them, so a supervisor whose report
    # was the month's only one read what colleagues did about it.
    from incidents.models import Status
    from tests.incidents.test_exports import filed

    colleague_report = filed(reporter=UserFactory(units=[unit]), police_informed=True)
    own = filed(
        reporter=supervisor,
        unit=unit,
        police_informed=True,
        flag_recommended=True,
        status=Status.CLOSED,
    )
    response = supervisor_client.get(f"{PDF_URL}?month=2026-10&unit=WARD-A")
    text = squeezed(pdf_text(response.content))
    assert "yourownreportsarenotcountedhere" in text
    assert "Policeinformed1" in text  # the colleague's report only
    assert "Behaviouralflagonthepatientrecordrecommended0" in text
    # Whoever else reads the same month sees both (the command's copy here).
    call_command("monthly_report", "--month", "2026-10", "--unit", "WARD-A", "--output", tmp_path)
    whole = squeezed(pdf_text(next(tmp_path.glob("*.pdf")).read_bytes()))
    assert "Policeinformed2" in whole and "notcountedhere" not in whole
    assert (colleague_report.unit, own.unit) == (unit, unit)


# --- The command for cron ------------------------------------------------------------------


def test_the_command_writes_the_same_document_generated_by_the_scheduled_job(october, tmp_path):
    call_command("monthly_report", "--month", "2026-10", "--output", str(tmp_path))
    written = tmp_path / "boundaries-monthly-2026-10-organisation.pdf"
    text = squeezed(pdf_text(written.read_bytes()))
    assert "scheduledjob" in text
    assert "5Incidents" in text
    event = AuditEvent.objects.get(action="report.exported")
    assert (event.actor, event.unit) == (None, None)


def test_the_report_file_is_readable_by_its_owner_and_group_only(db, tmp_path):
    """Whatever the cron job's umask, and over an older copy anyone could read (found
    by review: the process's default umask left it world-readable)."""
    path = tmp_path / "report.pdf"
    path.write_bytes(b"an older copy")
    path.chmod(0o666)
    call_command("monthly_report", "--month", "2026-10", "--output", str(path))
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.read_bytes().startswith(b"%PDF")


def test_the_command_emails_a_link_to_a_units_report_to_its_supervisors_only(
    october, supervisor, other_unit_supervisor, manager, settings
):
    UserFactory(role=Role.SUPERVISOR, units=[supervisor.units.first()], is_active=False)
    out = io.StringIO()
    call_command("monthly_report", "--month", "2026-10", "--unit", "WARD-A", "--email", stdout=out)

    assert [message.to for message in mail.outbox] == [[supervisor.email]]
    message = mail.outbox[0]
    assert message.subject == "Boundaries monthly summary: October 2026, Ward A"
    assert f"{settings.SITE_URL}/reports/?month=2026-10&unit=WARD-A\n" in message.body
    # The report stays behind the sign-in; the email says no figure and names no patient.
    assert message.attachments == []
    assert not re.search(r"\d{6}", message.body)
    assert "Emailed a link to the summary to 1 person." in out.getvalue()
    # Through the outbox, like every email of the app: written, then sent, to a person.
    (queued,) = QueuedEmail.objects.all()
    assert (queued.recipient, queued.attempts) == (supervisor, 1)
    assert queued.sent_at is not None
    # A link is not an export: the reader's download is, recorded when it happens.
    assert not AuditEvent.objects.filter(action="report.exported").exists()


def test_the_emailed_link_opens_the_readers_own_summary(supervisor, unit, settings):
    """Each reader's PDF leaves out what was done about their own reports (found by a
    review helper when the command mailed one copy to every supervisor): the link
    opens the page drawn for whoever follows it."""
    from incidents.models import Status
    from tests.incidents.test_exports import filed

    colleague = UserFactory(role=Role.SUPERVISOR, units=[unit])
    filed(reporter=supervisor, unit=unit, flag_recommended=True, status=Status.CLOSED)
    filed(reporter=UserFactory(units=[unit]), unit=unit)
    call_command("monthly_report", "--month", "2026-10", "--unit", "WARD-A", "--email")

    def text_for(person) -> str:
        (message,) = [m for m in mail.outbox if m.to == [person.email]]
        link = re.search(rf"{re.escape(settings.SITE_URL)}(/reports/\S+)", message.body)[1]
        client = client_for(person)
        page = client.get(link)
        assert page.status_code == 200
        return squeezed(pdf_text(client.get(page.context["pdf_url"]).content))

    own = text_for(supervisor)
    assert "Behaviouralflagonthepatientrecordrecommended0" in own
    assert "yourownreportsarenotcountedhere" in own
    # The colleague's counts what was done about the supervisor's report.
    assert "Behaviouralflagonthepatientrecordrecommended1" in text_for(colleague)


def test_the_command_emails_the_organisations_report_to_each_active_manager(
    db, manager, supervisor, tmp_path
):
    second = UserFactory(role=Role.MANAGER, units=[UnitFactory(code="WARD-C")])
    call_command("monthly_report", "--month", "2026-10", "--email")
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [manager.email, second.email]
    )
    assert all(len(message.to) == 1 for message in mail.outbox)


def test_a_closed_units_report_is_emailed_to_the_managers_not_its_former_supervisors(
    unit, supervisor, manager
):
    """Found by a review helper: its old supervisors, who can no longer open it."""
    unit.is_active = False
    unit.save()
    call_command("monthly_report", "--month", "2026-10", "--unit", unit.code, "--email")
    assert [message.to for message in mail.outbox] == [[manager.email]]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--month", "2026-13", "--email"], "between 01 and 12"),
        (["--month", "next", "--email"], "for example 2026-10"),
        (["--month", "2026-10", "--unit", "NOPE", "--email"], "no unit with the code"),
        (["--month", "2026-10"], "Say where the report goes"),
    ],
)
def test_the_command_explains_what_is_wrong(db, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("monthly_report", *arguments)


def test_the_command_refuses_a_folder_that_does_not_exist_before_drawing_anything(db, tmp_path):
    """A missing folder named with a trailing slash once became a file of that name,
    replaced every month (found by a review helper)."""
    folder = tmp_path / "reports"
    for output, message in [
        (f"{folder}/", "There is no folder"),
        (str(folder / "june.pdf"), "to write june.pdf in"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("monthly_report", "--month", "2026-10", "--output", output)
    assert not folder.exists()
    assert not AuditEvent.objects.filter(action="report.exported").exists()


def test_a_report_that_went_nowhere_is_not_recorded_as_exported(db, tmp_path):
    with pytest.raises(CommandError, match="Nobody to email"):
        call_command("monthly_report", "--month", "2026-10", "--email")
    assert not AuditEvent.objects.filter(action="report.exported").exists()
    call_command("monthly_report", "--month", "2026-10", "--output", str(tmp_path / "r.pdf"))
    event = AuditEvent.objects.get(action="report.exported")
    assert (event.object_type, event.object_id) == ("month", "2026-10")


def test_the_export_records_the_month_it_chose_by_default(db, tmp_path):
    call_command("monthly_report", "--output", str(tmp_path / "r.pdf"))
    event = AuditEvent.objects.get(action="report.exported")
    assert (event.object_type, event.object_id) == ("month", str(Month.last_completed()))


# --- Nothing a document names is fetched from a file or the network -----------------------

HOSTILE = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Hostile</title>
<link rel="attachment" href="file:///etc/hosts">
<link rel="stylesheet" href="http://127.0.0.1:9/evil.css">
</head><body>
<h1>Hostile document</h1>
<img src="file:///etc/passwd" alt="passwd">
<img src="http://127.0.0.1:9/tracker.png" alt="tracker">
<p style="background: url(file:///etc/passwd)">Still rendered</p>
</body></html>
"""


def test_render_pdf_refuses_files_and_the_network_named_in_a_template(
    db, settings, tmp_path, caplog
):
    (tmp_path / "hostile.html").write_text(HOSTILE)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]

    content = pdf.render_pdf("hostile.html", {}, title="Hostile")

    output = tmp_path / "hostile.pdf"
    output.write_bytes(content)
    assert "has no embedded files" in attachments(output)
    assert PdfReader(io.BytesIO(content)).attachments == {}
    assert "Still rendered" in pdf_text(content)
    assert b"root:" not in content
    refused = " ".join(record.getMessage() for record in caplog.records)
    assert "file:///etc/passwd" in refused or "refused" in refused


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.css",
        "https://example.org/x.png",
        "https://boundaries.invalid/static/../../../etc/passwd",
        "https://boundaries.invalid/static/%2e%2e/settings.py",
        "ftp://example.org/x",
    ],
)
def test_the_fetcher_refuses_anything_but_static_files_and_data(url):
    with pytest.raises(pdf.RefusedURL):
        pdf.url_fetcher().fetch(url)


def test_the_fetcher_serves_the_report_stylesheet(db):
    response = pdf.url_fetcher().fetch("https://boundaries.invalid/static/css/report.css")
    assert b"@page" in response.read()


def test_a_manager_reports_on_a_unit_closed_since(other_unit, other_unit_nurse, manager):
    """A closed ward's past months stay reportable (as from manage.py monthly_report);
    supervisors keep to their own active units."""
    from boundaries.models import Unit
    from tests.conftest import client_for

    IncidentFactory(reporter=other_unit_nurse, unit=other_unit)
    Unit.objects.filter(pk=other_unit.pk).update(is_active=False)
    client = client_for(manager)
    query = f"month=2026-10&unit={other_unit.code}"

    page = client.get(f"/reports/?{query}")

    assert page.status_code == 200
    assert f"{other_unit.code}, closed)" in page.content.decode()
    assert client.get(f"/reports/monthly.pdf?{query}").status_code == 200
    assert client.get(f"/reports/incidents.csv?{query}").status_code == 200


class RefusesOneAddress(LocmemBackend):
    """As Django's SMTP backend when the relay refuses one recipient: the messages
    before it have gone, and the exception stops the rest of the batch."""

    refused = "mfull@example.invalid"

    def send_messages(self, messages):
        for message in messages:
            if self.refused in message.to:
                raise smtplib.SMTPRecipientsRefused({self.refused: (552, b"Mailbox full")})
            super().send_messages([message])
        return len(messages)


def test_a_refused_address_waits_in_the_outbox_and_is_sent_by_the_next_run(db, manager, settings):
    """The email the relay refused once was lost: the operator was told to send the
    summary another way. Now it is kept and tried again, as every email of the app is,
    without holding up the others; the run fails, saying so (found by review: it exited
    0 when the relay refused every email), and not to run it again."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusesOneAddress"}}
    full = UserFactory(role=Role.MANAGER, email=RefusesOneAddress.refused, units=[UnitFactory()])
    UserFactory(role=Role.MANAGER, email="zed@example.invalid", units=[UnitFactory()])
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("monthly_report", "--month", "2026-10", "--email", stdout=out)

    assert sorted(message.to[0] for message in mail.outbox) == [
        "manager@example.invalid",
        "zed@example.invalid",
    ]
    assert "Emailed a link to the summary to 2 people." in out.getvalue()
    assert "1 of 3 email(s) were refused by the mail server and wait in the outbox" in str(
        failed.value
    )
    assert "Do not run this command again" in str(failed.value)
    assert AuditEvent.objects.get(action="report.emailed").object_id == "2026-10"
    waiting = QueuedEmail.objects.waiting().get()
    assert (waiting.recipient, waiting.attempts) == (full, 1)
    assert "552" in waiting.last_error

    relay_back(settings)
    call_command("send_incident_digests", verbosity=0)
    assert mail.outbox[-1].to == [RefusesOneAddress.refused]
    assert (
        mail.outbox[-1].subject == "Boundaries monthly summary: October 2026, Whole organisation"
    )
    assert not QueuedEmail.objects.waiting().exists()


def test_an_unreachable_relay_fails_the_command_and_loses_no_email(db, manager, settings):
    relay_down(settings)
    UserFactory(role=Role.MANAGER, email="zed@example.invalid", units=[UnitFactory()])

    with pytest.raises(CommandError, match=r"could not be reached; 2 email\(s\) wait"):
        call_command("monthly_report", "--month", "2026-10", "--email", stdout=io.StringIO())

    assert mail.outbox == []
    assert QueuedEmail.objects.waiting().count() == 2
    relay_back(settings)
    call_command("send_incident_digests", verbosity=0)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "manager@example.invalid",
        "zed@example.invalid",
    ]


def test_the_summary_is_not_emailed_twice_for_one_month_without_again(db, manager, unit):
    """Found by review: a run repeated (after a failure, or by a second cron line)
    emailed everyone again, and said nothing."""
    call_command("monthly_report", "--month", "2026-10", "--email", stdout=io.StringIO())
    assert len(mail.outbox) == 1

    with pytest.raises(CommandError, match="emailed already"):
        call_command("monthly_report", "--month", "2026-10", "--email")
    assert len(mail.outbox) == 1

    # Another month, or another unit, is another summary.
    call_command("monthly_report", "--month", "2026-09", "--email", stdout=io.StringIO())
    UserFactory(role=Role.SUPERVISOR, units=[unit])
    call_command(
        "monthly_report",
        "--month",
        "2026-10",
        "--unit",
        unit.code,
        "--email",
        stdout=io.StringIO(),
    )
    assert len(mail.outbox) == 3
    call_command(
        "monthly_report", "--month", "2026-10", "--email", "--again", stdout=io.StringIO()
    )
    assert len(mail.outbox) == 4
