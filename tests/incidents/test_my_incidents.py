"""A reporter's own list and detail pages, addenda, and who may open what."""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boundaries.models import AuditEvent
from incidents.models import Addendum
from incidents.pagination import encode_cursor
from tests.conftest import page_title
from tests.factories import IncidentFactory, UserFactory


def test_reporters_see_only_their_own_incidents(nurse_client, nurse, other_unit_nurse, unit):
    mine = IncidentFactory(reporter=nurse)
    colleague = UserFactory(units=[unit])
    theirs = IncidentFactory(reporter=colleague)
    page = nurse_client.get("/incidents/")
    assert mine.reference.encode() in page.content
    assert theirs.reference.encode() not in page.content


def test_the_list_runs_the_same_queries_for_1_or_20_incidents(nurse_client, nurse):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert nurse_client.get("/incidents/").status_code == 200
        return len(captured)

    IncidentFactory(reporter=nurse)
    nurse_client.get("/incidents/")  # the session's first request records its start
    one = count()
    IncidentFactory.create_batch(19, reporter=nurse)
    assert count() == one


def test_the_list_pages_by_keyset(nurse_client, nurse):
    incidents = IncidentFactory.create_batch(30, reporter=nurse)
    first = nurse_client.get("/incidents/")
    assert len(first.context["page"].items) == 25
    cursor = first.context["page"].next_cursor
    second = nurse_client.get(f"/incidents/?after={cursor}")
    shown = [*first.context["page"].items, *second.context["page"].items]
    assert sorted(i.pk for i in shown) == sorted(i.pk for i in incidents)
    assert second.context["page"].next_cursor is None


def test_a_malformed_cursor_shows_the_first_page(nurse_client, nurse):
    IncidentFactory(reporter=nurse)
    response = nurse_client.get("/incidents/?after=%%%not-base64")
    assert response.status_code == 200
    assert response.context["page"].is_first


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("/incidents/", ["not a time", 1]),  # text where the time belongs
        ("/incidents/", [{"t": "2026-10-01T09:00:00+00:00"}, 2**63]),  # no id this big
        ("/incidents/", [{"t": "2026-10-01T09:00:00+00:00"}, "12"]),  # an id as text
        ("/incidents/", [7, 1]),  # a number where the time belongs
        ("/incidents/", [{"t": "9999-12-31T23:59:59-12:00"}, 1]),  # past the calendar's end
        ("/review/", ["submitted", "soon", 1]),
        ("/review/", ["sub\x00mitted", {"t": "2026-10-01T09:00:00+00:00"}, 1]),
        ("/review/", ["submitted", {"t": "2026-10-01T09:00:00+00:00"}, -(2**70)]),
        ("/alerts/", ["yesterday", 1]),
    ],
)
def test_a_cursor_edited_by_hand_shows_the_first_page(
    nurse_client, supervisor_client, nurse, path, values
):
    """Well-formed, so it decodes, but not what the list's columns hold: the database
    would refuse it (a server error), so the list starts again from the top."""
    IncidentFactory(reporter=nurse)
    client = nurse_client if path == "/incidents/" else supervisor_client

    response = client.get(f"{path}?after={encode_cursor(values)}")

    assert response.status_code == 200
    assert response.context["page"].is_first


def test_the_reporter_opens_their_incident(nurse_client, nurse):
    incident = IncidentFactory(reporter=nurse, description="He followed me to the bus stop.")
    page = nurse_client.get(f"/incidents/{incident.pk}/")
    assert page.status_code == 200
    assert b"He followed me to the bus stop." in page.content
    assert not AuditEvent.objects.filter(action="incident.viewed").exists()


def test_another_reporter_gets_404_with_nothing_in_the_body(other_unit_nurse_client, nurse):
    incident = IncidentFactory(reporter=nurse, description="Private words")
    response = other_unit_nurse_client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 404
    assert b"Private words" not in response.content
    assert incident.reference.encode() not in response.content


def test_a_colleague_on_the_same_unit_cannot_open_it(db, nurse, unit, client):
    incident = IncidentFactory(reporter=nurse)
    client.force_login(UserFactory(units=[unit]))
    assert client.get(f"/incidents/{incident.pk}/").status_code == 404


def test_the_units_supervisor_opens_it_and_the_view_is_audited(supervisor_client, nurse):
    incident = IncidentFactory(reporter=nurse)
    assert supervisor_client.get(f"/incidents/{incident.pk}/").status_code == 200
    assert AuditEvent.objects.filter(action="incident.viewed", object_id=str(incident.pk)).exists()


def test_another_units_supervisor_gets_404(other_unit_supervisor_client, nurse):
    incident = IncidentFactory(reporter=nurse)
    assert other_unit_supervisor_client.get(f"/incidents/{incident.pk}/").status_code == 404


def test_anonymous_people_are_sent_to_sign_in(client, nurse):
    incident = IncidentFactory(reporter=nurse)
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 302


def test_the_reporter_adds_an_addendum(nurse_client, nurse):
    incident = IncidentFactory(reporter=nurse)
    response = nurse_client.post(
        f"/incidents/{incident.pk}/addenda/",
        {"token": str(uuid.uuid4()), "text": "He phoned the ward again today."},
    )
    assert response.status_code == 302
    addendum = Addendum.objects.get()
    assert addendum.incident == incident and addendum.author == nurse
    assert AuditEvent.objects.filter(action="addendum.added").exists()
    page = nurse_client.get(f"/incidents/{incident.pk}/")
    assert b"He phoned the ward again today." in page.content


def test_an_addendum_to_a_report_purged_meanwhile_is_not_added(nurse_client, nurse, monkeypatch):
    """The page found the report; by the time the addendum is saved, the retention
    purge has removed it: a 404, and nothing added."""
    from incidents import views
    from incidents.models import Incident

    incident = IncidentFactory(reporter=nurse)
    add = views.services.add_addendum

    def purged_first(**kwargs):
        Incident.objects.filter(pk=incident.pk).delete()
        return add(**kwargs)

    monkeypatch.setattr(views.services, "add_addendum", purged_first)
    response = nurse_client.post(
        f"/incidents/{incident.pk}/addenda/",
        {"token": str(uuid.uuid4()), "text": "He phoned the ward again today."},
    )
    assert response.status_code == 404
    assert not Addendum.objects.exists()
    assert not AuditEvent.objects.filter(action="addendum.added").exists()


def test_an_empty_addendum_is_refused_with_a_message(nurse_client, nurse):
    incident = IncidentFactory(reporter=nurse)
    response = nurse_client.post(
        f"/incidents/{incident.pk}/addenda/", {"token": str(uuid.uuid4()), "text": "  "}
    )
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert not Addendum.objects.exists()


def test_a_refused_addendum_says_so_in_the_title_and_at_the_top(nurse_client, nurse):
    """The form is at the foot of a long page: the title and a summary at the top say it
    was refused (found by review)."""
    incident = IncidentFactory(reporter=nurse)
    before = nurse_client.get(f"/incidents/{incident.pk}/")
    refused = nurse_client.post(
        f"/incidents/{incident.pk}/addenda/", {"token": str(uuid.uuid4()), "text": "   "}
    )
    assert refused.context["addendum_form"].errors
    assert page_title(refused) == f"Error: {page_title(before)}"
    assert b'id="error-summary"' in refused.content
    assert b'href="#id_text"' in refused.content
    assert b'id="error-summary"' not in before.content


def test_only_the_reporter_adds_addenda(supervisor_client, other_unit_nurse_client, nurse):
    incident = IncidentFactory(reporter=nurse)
    for client in (supervisor_client, other_unit_nurse_client):
        response = client.post(
            f"/incidents/{incident.pk}/addenda/",
            {"token": str(uuid.uuid4()), "text": "Not mine to add"},
        )
        assert response.status_code == 404
    assert not Addendum.objects.exists()


def test_a_filed_incident_cannot_be_edited_or_deleted(nurse_client, nurse):
    incident = IncidentFactory(reporter=nurse)
    assert nurse_client.post(f"/incidents/{incident.pk}/").status_code == 405
    assert nurse_client.delete(f"/incidents/{incident.pk}/").status_code == 405
    assert nurse_client.get(f"/incidents/{incident.pk}/addenda/").status_code == 405


def test_the_two_0130s_of_the_night_the_clocks_go_back_look_different(nurse_client, nurse):
    from datetime import UTC, datetime

    bst = IncidentFactory(reporter=nurse, occurred_at=datetime(2025, 10, 26, 0, 30, tzinfo=UTC))
    gmt = IncidentFactory(reporter=nurse, occurred_at=datetime(2025, 10, 26, 1, 30, tzinfo=UTC))
    assert b"01:30 BST (UTC+01:00)" in nurse_client.get(f"/incidents/{bst.pk}/").content
    assert b"01:30 GMT (UTC+00:00)" in nurse_client.get(f"/incidents/{gmt.pk}/").content


def test_a_report_filed_in_the_repeated_hour_does_not_look_filed_before_it_happened(
    nurse_client, nurse
):
    # Found by a review helper: "When" named the zone and "Filed" did not, so a report
    # of 01:40 BST filed at 01:10 GMT (half an hour later) read as filed before it.
    from datetime import UTC, datetime

    incident = IncidentFactory(
        reporter=nurse,
        occurred_at=datetime(2026, 10, 25, 0, 40, tzinfo=UTC),
        submitted_at=datetime(2026, 10, 25, 1, 10, tzinfo=UTC),
    )
    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Sunday 25 October 2026, 01:40 BST (UTC+01:00)" in page
    assert "Sunday 25 October 2026, 01:10 GMT (UTC+00:00)" in page


def test_a_review_past_its_due_time_is_not_promised_to_the_reporter(nurse_client, nurse):
    # Found by a review helper: the page said "will review it by 28 October, 10:00" long
    # after that day, with no year to show it had passed.
    from datetime import UTC, datetime

    incident = IncidentFactory(
        reporter=nurse,
        occurred_at=datetime(2025, 10, 24, 9, 0, tzinfo=UTC),
        submitted_at=datetime(2025, 10, 25, 9, 0, tzinfo=UTC),
        review_due_at=datetime(2025, 10, 28, 10, 0, tzinfo=UTC),
    )
    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "will review it by" not in page
    # And what she can do about it.
    assert "It was due for review by 28 October 2025, 10:00. You can ask your supervisor" in page


def test_a_review_to_come_is_promised_with_its_year(nurse_client, nurse):
    # Noticed by a review of the product's text: "by 2 January, 09:00" from late December
    # read as this year's, as the review queue's dates did.
    from datetime import UTC, datetime

    incident = IncidentFactory(
        reporter=nurse, review_due_at=datetime(2099, 1, 2, 9, 0, tzinfo=UTC)
    )
    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "A supervisor will review it by 2 January 2099, 09:00." in page
    page = nurse_client.get(f"/incidents/{incident.pk}/filed/").content.decode()
    assert "<strong>Friday 2 January 2099, 09:00</strong>" in page


def test_a_cursor_over_a_related_column_is_checked_against_that_column(nurse, rf):
    """Keys may follow relations, as the rows' values do: the check follows them too."""
    from incidents.models import Incident
    from incidents.pagination import KeysetPage
    from tests.factories import UnitFactory

    for code in ("WARD-A1", "WARD-B1", "WARD-C1"):
        IncidentFactory(reporter=nurse, unit=UnitFactory(code=code))
    incidents = Incident.objects.select_related("unit")
    keys = ("unit__code", "id")

    def page(after: str) -> KeysetPage:
        request = rf.get("/", {"after": after} if after else {})
        return KeysetPage.from_request(request, incidents, size=1, keys=keys)

    second = page(page("").next_cursor)
    edited = page(encode_cursor([7, 1]))  # a number where the code belongs

    assert [incident.unit.code for incident in second.items] == ["WARD-B1"]
    assert edited.is_first


def test_an_addendum_sent_twice_is_added_once(nurse_client, nurse, supervisor):
    """A double click, or the form sent again after going back (found by a review
    helper: two identical addenda, which can never be removed)."""
    incident = IncidentFactory(reporter=nurse)
    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    (token,) = re.findall(r'name="token" value="([0-9a-f-]{36})"', page)
    sent = {"token": token, "text": "He phoned the ward again and asked for me by name."}
    for _ in range(2):
        response = nurse_client.post(f"/incidents/{incident.pk}/addenda/", sent)
        assert response.status_code == 302
    assert Addendum.objects.filter(incident=incident).count() == 1
    assert AuditEvent.objects.filter(action="addendum.added").count() == 1
    # Another report's form cannot reuse the token.
    other = IncidentFactory(reporter=nurse)
    response = nurse_client.post(f"/incidents/{other.pk}/addenda/", sent)
    assert response.status_code == 400
    assert not Addendum.objects.filter(incident=other).exists()
