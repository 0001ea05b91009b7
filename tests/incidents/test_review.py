"""The review queue and reviews: the loop back to the reporter, the workflow, conflicts
between two supervisors, and who may review what."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boundaries.models import Membership
from incidents.models import (
    AlertStatus,
    IncidentEvent,
    Severity,
    Status,
)
from tests.conftest import client_for, page_title
from tests.factories import IncidentFactory, UserFactory, repeat_alert_on


def review_data(incident, **overrides) -> dict:
    data = {
        "version": str(incident.version),
        "status": Status.UNDER_REVIEW,
        "actions": ["debrief_offered"],
        "feedback": "Thank you for reporting this so clearly. I have spoken to the family.",
        "internal_note": "Son has asked two other nurses; considering a letter.",
    }
    data.update(overrides)
    return data


@pytest.fixture
def incident(nurse):
    return IncidentFactory(reporter=nurse)


def test_queue_shows_unreviewed_first_and_marks_overdue(supervisor_client, nurse):
    now = timezone.now()
    reviewing = IncidentFactory(reporter=nurse, status=Status.UNDER_REVIEW, review_due_at=now)
    late = IncidentFactory(reporter=nurse, review_due_at=now - timedelta(days=1))
    fresh = IncidentFactory(reporter=nurse, review_due_at=now + timedelta(days=2))
    page = supervisor_client.get("/review/")
    assert page.status_code == 200
    assert [i.pk for i in page.context["page"].items] == [late.pk, fresh.pk, reviewing.pk]
    assert page.context["summary"] == {"awaiting": 2, "overdue": 1, "under_review": 1}
    assert b"Overdue" in page.content
    # A status reads as the counts and the filter above the table say it.
    assert '<td data-label="Status">Not yet reviewed</td>' in page.content.decode()
    assert '<td data-label="Status">Under review</td>' in page.content.decode()


@pytest.mark.parametrize(
    ("status", "overdue"), [(Status.SUBMITTED, True), (Status.UNDER_REVIEW, False)]
)
def test_only_an_unreviewed_incident_past_its_due_time_is_marked_overdue(
    supervisor_client, nurse, status, overdue
):
    now = timezone.now()
    incident = IncidentFactory(
        reporter=nurse,
        status=status,
        occurred_at=now - timedelta(days=6),
        submitted_at=now - timedelta(days=5),
        review_due_at=now - timedelta(days=2),
    )
    page = supervisor_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert ('<span class="badge text-bg-danger">Overdue</span>' in page) is overdue


def test_the_feedback_heading_speaks_to_whoever_reads_the_page(
    nurse_client, supervisor_client, nurse
):
    """The reporter reads "Feedback from your supervisor"; a supervisor reviewing
    someone else's report read the same, about the feedback they give themselves."""
    incident = IncidentFactory(reporter=nurse, review_due_at=timezone.now() - timedelta(days=1))
    mine = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    theirs = supervisor_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Feedback from your supervisor" in mine
    assert "Feedback from your supervisor" not in theirs
    assert "Feedback to the reporter" in theirs
    # Overdue: the reporter is told she can ask; the supervisor is the one to ask.
    assert "You can ask your supervisor about it." in mine
    assert "You can ask your supervisor about it." not in theirs


def test_the_queue_gives_the_year_an_incident_happened(supervisor_client, nurse):
    # Found by a review helper: a late report of something 13 months ago was listed as
    # "3 Nov, 14:05", which reads as this year's.
    from datetime import UTC, datetime

    IncidentFactory(reporter=nurse, occurred_at=datetime(2025, 11, 3, 14, 5, tzinfo=UTC))
    page = supervisor_client.get("/review/").content.decode()
    assert '<td data-label="When">3 Nov 2025, 14:05</td>' in page


def test_the_queue_gives_the_year_a_review_is_due(supervisor_client, nurse):
    # Left alone last session: "Review due 2 Jan, 09:00" in late December could be this
    # year's or next; a review overdue since last year read as this year's.
    from datetime import UTC, datetime

    IncidentFactory(reporter=nurse, review_due_at=datetime(2025, 12, 30, 9, 0, tzinfo=UTC))
    page = supervisor_client.get("/review/").content.decode()
    assert '<td data-label="Review due">30 Dec 2025, 09:00' in page


def test_queue_is_limited_to_the_supervisors_units(supervisor_client, nurse, other_unit_nurse):
    mine = IncidentFactory(reporter=nurse)
    theirs = IncidentFactory(reporter=other_unit_nurse)
    page = supervisor_client.get("/review/")
    assert mine.reference.encode() in page.content
    assert theirs.reference.encode() not in page.content


def test_queue_filters(supervisor_client, nurse):
    high = IncidentFactory(reporter=nurse, severity=Severity.HIGH)
    low = IncidentFactory(reporter=nurse, severity=Severity.LOW)
    page = supervisor_client.get("/review/?severity=3")
    assert [i.pk for i in page.context["page"].items] == [high.pk]
    closed = IncidentFactory(reporter=nurse, status=Status.CLOSED, closed_at=timezone.now())
    page = supervisor_client.get("/review/?status=closed")
    assert [i.pk for i in page.context["page"].items] == [closed.pk]
    today = timezone.localdate().isoformat()
    page = supervisor_client.get(f"/review/?occurred_from={today}&request_type=personal-contact")
    assert {i.pk for i in page.context["page"].items} <= {high.pk, low.pk}


def test_a_bad_filter_says_so_and_still_shows_the_queue(supervisor_client, incident):
    page = supervisor_client.get("/review/?occurred_from=2026-02-30&severity=9")
    assert page.status_code == 200
    assert page.context["form"].errors
    assert [i.pk for i in page.context["page"].items] == [incident.pk]


def test_a_filter_of_one_day_is_allowed_and_a_reversed_one_says_what_to_choose(
    supervisor_client, incident
):
    day = timezone.localtime(incident.occurred_at).date()
    one_day = supervisor_client.get(f"/review/?occurred_from={day}&occurred_to={day}")
    assert not one_day.context["form"].errors
    assert [i.pk for i in one_day.context["page"].items] == [incident.pk]
    before = day - timedelta(days=1)
    reversed_ = supervisor_client.get(f"/review/?occurred_from={day}&occurred_to={before}")
    # "after" alone would rule out the same day, which the filter takes.
    assert reversed_.context["form"].errors["occurred_to"] == ["Choose a date on or after “From”."]


def test_queue_pages_by_keyset(supervisor_client, nurse):
    IncidentFactory.create_batch(55, reporter=nurse)
    first = supervisor_client.get("/review/")
    assert len(first.context["page"].items) == 50
    second = supervisor_client.get(f"/review/?after={first.context['page'].next_cursor}")
    assert len(second.context["page"].items) == 5


def test_queue_runs_the_same_queries_for_1_or_20_incidents(supervisor_client, nurse):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert supervisor_client.get("/review/").status_code == 200
        return len(captured)

    IncidentFactory(reporter=nurse)
    supervisor_client.get("/review/")
    one = count()
    IncidentFactory.create_batch(19, reporter=nurse)
    assert count() == one


def test_supervisor_reviews_and_the_reporter_sees_feedback_not_the_note(
    supervisor_client, supervisor, nurse_client, incident, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(
            f"/incidents/{incident.pk}/review/", review_data(incident)
        )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.UNDER_REVIEW
    assert incident.reviewed_by == supervisor and incident.reviewed_at
    assert incident.debrief_offered and not incident.police_informed
    assert incident.version == 1

    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "I have spoken to the family." in page
    assert "considering a letter" not in page
    assert "Under review" in page

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [incident.reporter.email]
    assert "considering a letter" not in mail.outbox[0].body
    assert "spoken to the family" not in mail.outbox[0].body

    kinds = list(IncidentEvent.objects.values_list("kind", flat=True))
    assert kinds == ["status_changed", "reviewed", "feedback"]


def test_the_reporters_email_mentions_feedback_only_when_it_is_new(
    supervisor_client, incident, django_capture_on_commit_callbacks
):
    """Closing a report whose feedback was given a week ago is news of the status alone
    (found by review: every update said there was feedback)."""
    with django_capture_on_commit_callbacks(execute=True):
        supervisor_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    assert "left feedback for you" in mail.outbox[0].body
    incident.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        supervisor_client.post(
            f"/incidents/{incident.pk}/review/",
            review_data(
                incident, status=Status.CLOSED, feedback=incident.feedback, internal_note=""
            ),
        )
    assert len(mail.outbox) == 2
    assert '"closed"' in mail.outbox[1].body
    assert "feedback" not in mail.outbox[1].body


def test_reporters_list_shows_there_is_feedback(nurse_client, supervisor_client, incident):
    supervisor_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    page = nurse_client.get("/incidents/")
    assert b">Yes<" in page.content


def test_status_moves_one_step_at_a_time(supervisor_client, incident):
    response = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident, status=Status.CLOSED)
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    incident.refresh_from_db()
    assert incident.status == Status.SUBMITTED


def test_closing_and_reopening_with_a_reason(supervisor_client, incident):
    supervisor_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    incident.refresh_from_db()
    supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident, status=Status.CLOSED)
    )
    incident.refresh_from_db()
    assert incident.status == Status.CLOSED and incident.closed_at

    response = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident, status=Status.UNDER_REVIEW)
    )
    assert b"Say why the incident is being reopened." in response.content
    supervisor_client.post(
        f"/incidents/{incident.pk}/review/",
        review_data(incident, status=Status.UNDER_REVIEW, reopen_reason="He came back."),
    )
    incident.refresh_from_db()
    assert incident.status == Status.UNDER_REVIEW and incident.closed_at is None
    reopened = IncidentEvent.objects.get(kind=IncidentEvent.Kind.REOPENED)
    assert reopened.note == "He came back."


def test_closing_later_keeps_when_the_incident_was_first_reviewed(supervisor_client, incident):
    """The monthly report's time to review and review target are measured to the first
    review, not to whatever came after it."""
    supervisor_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    incident.refresh_from_db()
    first_reviewed = incident.reviewed_at
    assert first_reviewed is not None
    supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident, status=Status.CLOSED)
    )
    incident.refresh_from_db()
    assert incident.status == Status.CLOSED
    assert incident.reviewed_at == first_reviewed


def test_the_later_of_two_concurrent_reviews_gets_a_conflict(supervisor_client, unit, incident):
    second = client_for(UserFactory(role="supervisor", units=[unit]))
    stale = review_data(incident)
    first = supervisor_client.post(f"/incidents/{incident.pk}/review/", stale)
    assert first.status_code == 302
    response = second.post(
        f"/incidents/{incident.pk}/review/",
        {**stale, "feedback": "My different feedback", "internal_note": "Mine"},
    )
    assert response.status_code == 409
    assert b"This incident changed while you were working on it" in response.content
    assert b"My different feedback" in response.content
    incident.refresh_from_db()
    assert incident.feedback.startswith("Thank you for reporting")
    assert incident.version == 1


def test_a_refused_review_says_so_in_the_title_and_at_the_top(supervisor_client, incident):
    """Found by review: the review form is far down the page."""
    before = supervisor_client.get(f"/incidents/{incident.pk}/")
    refused = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", {"version": str(incident.version), "status": ""}
    )
    assert refused.context["review_form"].errors
    assert page_title(refused) == f"Error: {page_title(before)}"
    assert b'id="error-summary"' in refused.content
    assert b'href="#id_status_0"' in refused.content  # the first option of the radio set


def test_a_review_conflict_says_so_in_the_title(supervisor_client, unit, incident):
    second = client_for(UserFactory(role="supervisor", units=[unit]))
    stale = review_data(incident)
    supervisor_client.post(f"/incidents/{incident.pk}/review/", stale)
    response = second.post(f"/incidents/{incident.pk}/review/", stale | {"feedback": "Mine"})
    assert response.status_code == 409
    assert page_title(response).startswith("Error: Incident ")


def test_a_stale_page_whose_status_is_no_longer_offered_still_gets_the_conflict(
    supervisor_client, unit, incident
):
    """The later reviewer's page offered "submitted"; once a colleague moved the
    incident on, that choice is gone. They are told someone saved first, not that their
    choice was invalid."""
    colleague = client_for(UserFactory(role="supervisor", units=[unit]))
    stale = review_data(incident, status=Status.SUBMITTED, feedback="Mine")
    assert (
        colleague.post(f"/incidents/{incident.pk}/review/", review_data(incident)).status_code
        == 302
    )

    response = supervisor_client.post(f"/incidents/{incident.pk}/review/", stale)

    assert response.status_code == 409
    assert b"This incident changed while you were working on it" in response.content
    assert b"Mine" in response.content


def test_closing_from_a_page_drawn_before_the_reporters_addendum_is_a_conflict(
    supervisor_client, nurse_client, incident
):
    """An addendum ("he waited by my car tonight") is new on the record: a review form
    drawn before it cannot close the incident unseen (found by review)."""
    drawn = review_data(incident, status=Status.UNDER_REVIEW, feedback="Reviewing.")
    assert supervisor_client.post(f"/incidents/{incident.pk}/review/", drawn).status_code == 302
    incident.refresh_from_db()
    page = review_data(incident, status=Status.CLOSED, feedback="Nothing more to do.")
    added = nurse_client.post(
        f"/incidents/{incident.pk}/addenda/",
        {"token": str(uuid.uuid4()), "text": "He waited by my car tonight."},
    )
    assert added.status_code == 302

    response = supervisor_client.post(f"/incidents/{incident.pk}/review/", page)

    assert response.status_code == 409
    assert b"the reporter added to the report" in response.content
    assert b"He waited by my car tonight." in response.content
    incident.refresh_from_db()
    assert incident.status == Status.UNDER_REVIEW


def test_changed_feedback_keeps_what_the_reporter_was_told_first(
    supervisor_client, nurse_client, unit, incident
):
    """Feedback is the supervisor's word to the reporter, emailed as news: changed, the
    earlier words stay on the report for its reporter and in the supervisors' history,
    with who gave them (found by review: they were replaced without a trace)."""
    colleague = UserFactory(role="supervisor", units=[unit], first_name="Ada", last_name="Hale")
    said = "You did exactly the right thing; no need to change anything."
    assert (
        client_for(colleague)
        .post(f"/incidents/{incident.pk}/review/", review_data(incident, feedback=said))
        .status_code
        == 302
    )
    incident.refresh_from_db()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    IncidentEvent.objects.filter(kind=IncidentEvent.Kind.FEEDBACK).update(created_at=an_hour_ago)
    later = "You should have ended the conversation sooner."
    response = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident, feedback=later)
    )
    assert response.status_code == 302

    reporters_page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert later in reporters_page
    earlier = reporters_page.split("Earlier feedback", 1)[1]
    assert said in earlier and "Ada Hale" in earlier and later not in earlier
    history = supervisor_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert history.split(">History<", 1)[1].count("Feedback given") == 2
    assert said in history.split(">History<", 1)[1]


def test_feedback_corrected_at_once_is_not_listed_to_the_reporter(
    supervisor_client, nurse_client, incident
):
    """Words on the wrong report, or a typo, taken back within minutes: kept in the
    supervisors' history, not listed on the reporter's page (found by review)."""
    wrong = "Priya, well done with Mr Jones today."

    def review_with(feedback: str) -> None:
        incident.refresh_from_db()
        data = review_data(incident, feedback=feedback)
        assert supervisor_client.post(f"/incidents/{incident.pk}/review/", data).status_code == 302

    review_with(wrong)
    review_with("")
    assert wrong not in nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    history = supervisor_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert wrong in history.split(">History<", 1)[1]

    # Given, taken away and given again: listed once, as the current words.
    IncidentEvent.objects.update(created_at=timezone.now() - timedelta(hours=2))
    review_with("Thank you for reporting this.")
    IncidentEvent.objects.filter(kind=IncidentEvent.Kind.FEEDBACK).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    review_with("")
    review_with("Thank you for reporting this.")
    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert page.count("Thank you for reporting this.") == 1


def test_feedback_given_once_lists_nothing_earlier(supervisor_client, nurse_client, incident):
    supervisor_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    assert b"Earlier feedback" not in nurse_client.get(f"/incidents/{incident.pk}/").content


@pytest.mark.parametrize("version", ["\u00b2", "9" * 5000, "-1", "1.0"])
def test_a_version_that_is_not_the_pages_changes_nothing(supervisor_client, incident, version):
    """A hand-edited version gets the form's message or the conflict page. A
    superscript two passes str.isdigit() but not int(), and 5,000 digits are past
    int()'s limit: both were server errors."""
    response = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident, version=version)
    )
    assert response.status_code in (200, 409)
    incident.refresh_from_db()
    assert incident.status == Status.SUBMITTED


def test_a_reviewer_of_another_unit_gets_404(other_unit_supervisor_client, incident):
    response = other_unit_supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident)
    )
    assert response.status_code == 404
    incident.refresh_from_db()
    assert incident.status == Status.SUBMITTED


def test_reporters_cannot_review_even_their_own(nurse_client, incident):
    response = nurse_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    assert response.status_code == 403


def test_a_supervisor_who_filed_an_incident_sees_it_as_its_reporter(
    supervisor, supervisor_client, unit
):
    """Colleagues review it; its reporter reads their feedback, never their internal
    notes, and cannot review, close or queue their own report."""
    colleague = UserFactory(role="supervisor", units=[unit])
    incident = IncidentFactory(reporter=supervisor)
    data = review_data(incident)
    assert client_for(colleague).post(f"/incidents/{incident.pk}/review/", data).status_code == 302

    page = supervisor_client.get(f"/incidents/{incident.pk}/").content.decode()
    own_review = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident, status=Status.CLOSED)
    )
    queue = supervisor_client.get("/review/")

    assert data["feedback"] in page
    assert data["internal_note"] not in page
    assert own_review.status_code == 404
    incident.refresh_from_db()
    assert incident.status == Status.UNDER_REVIEW
    assert incident.reference not in queue.content.decode()
    assert queue.context["summary"]["under_review"] == 0


def test_the_review_form_needs_a_post(supervisor_client, incident):
    assert supervisor_client.get(f"/incidents/{incident.pk}/review/").status_code == 405


def test_managers_review_any_unit(manager_client, other_unit_nurse):
    incident = IncidentFactory(reporter=other_unit_nurse)
    response = manager_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    assert response.status_code == 302


def test_the_detail_page_shows_supervisors_the_review_form_and_trail(supervisor_client, incident):
    page = supervisor_client.get(f"/incidents/{incident.pk}/")
    assert b"Save review" in page.content
    assert b"Audit trail" in page.content
    assert incident.patient.reference.encode() in page.content


def test_the_reporter_does_not_see_the_review_form(nurse_client, incident):
    page = nurse_client.get(f"/incidents/{incident.pk}/")
    assert b"Save review" not in page.content
    assert b"Internal note" not in page.content


def test_the_cached_filter_form_offers_each_supervisor_only_their_own_units(
    supervisor_client, other_unit_supervisor_client, unit, other_unit
):
    for _ in range(2):  # the second round is served from the cache
        own = supervisor_client.get("/review/").content.decode()
        other = other_unit_supervisor_client.get("/review/").content.decode()
        assert f'<option value="{unit.pk}">{unit}</option>' in own
        assert str(other_unit) not in own
        assert f'<option value="{other_unit.pk}">{other_unit}</option>' in other
        assert str(unit) not in other


def test_a_filtered_queue_draws_its_form_afresh_with_the_choices_made(supervisor_client, unit):
    supervisor_client.get("/review/")  # the empty form, now cached
    page = supervisor_client.get(f"/review/?unit={unit.pk}&severity=3").content.decode()
    assert f'<option value="{unit.pk}" selected>{unit}</option>' in page
    assert '<option value="3" selected>High</option>' in page


@pytest.mark.parametrize(
    "data", [{"version": "999", "status": "submitted"}, {"version": "0", "status": "bogus"}]
)
def test_the_record_shown_with_a_refused_review_is_an_audited_read(
    supervisor_client, incident, data
):
    """A review answered with a conflict or with errors shows the whole record again,
    so it is a read like opening the incident (found by a review helper)."""
    from boundaries.audit import Action
    from boundaries.models import AuditEvent

    before = set(AuditEvent.objects.values_list("id", flat=True))
    response = supervisor_client.post(f"/incidents/{incident.pk}/review/", data)
    assert response.status_code in (200, 409)
    assert incident.description.encode() in response.content
    new = AuditEvent.objects.exclude(id__in=before)
    assert [(event.action, event.object_id) for event in new] == [
        (Action.INCIDENT_VIEWED, str(incident.pk))
    ]


def test_feedback_stays_with_the_supervisor_who_wrote_it(unit, nurse, nurse_client):
    """A second supervisor who changes only the status does not become the author of
    the first one's feedback on the reporter's page (found by a review helper)."""
    first = UserFactory(role="supervisor", units=[unit], first_name="Wyn", last_name="Author")
    second = UserFactory(role="supervisor", units=[unit], first_name="Jory", last_name="Other")
    incident = IncidentFactory(reporter=nurse)
    words = "Thank you for reporting this so clearly."
    client_for(first).post(
        f"/incidents/{incident.pk}/review/", review_data(incident, feedback=words)
    )
    incident.refresh_from_db()
    client_for(second).post(
        f"/incidents/{incident.pk}/review/",
        review_data(incident, feedback=words, status=Status.CLOSED),
    )
    incident.refresh_from_db()
    assert (incident.status, incident.reviewed_by, incident.feedback_by) == (
        Status.CLOSED,
        second,
        first,
    )
    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Wyn Author" in page and "Jory Other" not in page


def test_a_review_saved_unchanged_leaves_the_incident_as_it_was(
    supervisor_client, supervisor, incident
):
    other = UserFactory(role="supervisor", units=[incident.unit])
    data = review_data(incident)
    client_for(other).post(f"/incidents/{incident.pk}/review/", data)
    incident.refresh_from_db()
    version = incident.version
    response = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident), follow=True
    )
    assert b"Nothing had changed" in response.content
    incident.refresh_from_db()
    assert (incident.version, incident.reviewed_by) == (version, other)


def test_the_migration_credits_existing_feedback_to_its_last_reviewer(supervisor, nurse):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("incidents.migrations.0007_feedback_by")
    # Feedback without an author is refused by the database now (migration 0015): the
    # author the migration replaces is someone else here, never nobody.
    given = IncidentFactory(
        reporter=nurse, feedback="Well handled.", reviewed_by=supervisor, feedback_by=nurse
    )
    none = IncidentFactory(reporter=nurse, feedback="", reviewed_by=supervisor)

    migration.credit_feedback(apps, None)

    given.refresh_from_db()
    none.refresh_from_db()
    assert (given.feedback_by, none.feedback_by) == (supervisor, None)


def test_a_closed_units_open_incidents_are_reviewed_by_the_managers(
    manager, supervisor, nurse, unit
):
    """Closing a unit leaves its open incidents to the managers: they are in the
    managers' queue and can be reviewed and closed (found by a review helper)."""
    incident = IncidentFactory(reporter=nurse)
    unit.is_active = False
    unit.save()
    managing = client_for(manager)
    assert incident.reference.encode() in managing.get("/review/").content
    response = managing.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.reviewed_by) == (Status.UNDER_REVIEW, manager)
    # The unit's supervisors no longer review it: the unit is closed to them.
    assert client_for(supervisor).get(f"/incidents/{incident.pk}/").status_code == 404


@pytest.mark.parametrize("since", ["the unit closed", "they left the unit"])
def test_a_supervisor_no_longer_of_a_unit_reaches_none_of_its_records(
    supervisor, nurse, unit, since
):
    """Closing a unit, or taking a supervisor off it, takes effect at their next request,
    whatever they ask for: its incidents, its alerts, its patients' timelines, its
    reports and downloads, and acting on any of them."""
    incident = IncidentFactory(reporter=nurse, unit=unit)
    alert = repeat_alert_on(incident)
    client = client_for(supervisor)
    pages = [
        f"/incidents/{incident.pk}/",
        alert.get_absolute_url(),
        f"/alerts/patients/{incident.patient.public_id}/",
        f"/reports/?unit={unit.code}",
        f"/reports/monthly.pdf?unit={unit.code}",
        f"/reports/incidents.csv?unit={unit.code}",
        f"/reports/incidents.csv?unit={unit.code}&details=1",
    ]
    assert all(client.get(url).status_code == 200 for url in pages[:3])
    if since == "the unit closed":
        unit.is_active = False
        unit.save()
    else:
        Membership.objects.filter(user=supervisor, unit=unit).delete()

    assert {url: client.get(url).status_code for url in pages} == dict.fromkeys(pages, 404)
    actions = {
        f"/incidents/{incident.pk}/review/": review_data(incident),
        f"{alert.get_absolute_url()}acknowledge/": {"action": "Watching for now", "note": "N."},
        f"{alert.get_absolute_url()}resolve/": {"resolution": "Care transferred."},
    }
    assert {url: client.post(url, data).status_code for url, data in actions.items()} == (
        dict.fromkeys(actions, 404)
    )
    assert incident.reference.encode() not in client.get("/review/").content
    assert str(alert.public_id).encode() not in client.get("/alerts/").content
    incident.refresh_from_db()
    alert.refresh_from_db()
    assert (incident.status, alert.status) == (Status.SUBMITTED, AlertStatus.OPEN)


def test_a_supervisor_still_opens_their_own_report_once_its_unit_closes(
    supervisor, supervisor_client, unit
):
    """A supervisor's own reports are theirs to read as their reporter, whatever units
    they supervise now."""
    incident = IncidentFactory(reporter=supervisor)
    unit.is_active = False
    unit.save()
    page = supervisor_client.get(f"/incidents/{incident.pk}/")
    assert page.status_code == 200
    assert incident.reference in page.content.decode()


def test_feedback_of_only_spaces_is_no_feedback(
    supervisor_client, incident, django_capture_on_commit_callbacks
):
    """Nobody is emailed about an empty update (found by a review helper)."""
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(
            f"/incidents/{incident.pk}/review/",
            review_data(incident, status=Status.SUBMITTED, feedback="   \n  ", internal_note=" "),
        )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.feedback, incident.internal_note, incident.feedback_at) == ("", "", None)
    assert mail.outbox == []
    assert not incident.events.filter(kind=IncidentEvent.Kind.FEEDBACK).exists()


def test_a_review_sent_twice_is_saved_once_and_says_so(supervisor_client, incident):
    """A double click on "Save review": the second request finds its own save, not a
    colleague's (found by a review helper: it said nothing had been saved)."""
    data = review_data(incident)
    supervisor_client.post(f"/incidents/{incident.pk}/review/", data)
    second = supervisor_client.post(f"/incidents/{incident.pk}/review/", data, follow=True)
    assert b"Review saved." in second.content
    assert b"This incident changed" not in second.content
    incident.refresh_from_db()
    assert incident.version == 1
    # The same person sending different words on the old version is still told.
    changed = review_data(incident, version="0", feedback="Different words.")
    response = supervisor_client.post(f"/incidents/{incident.pk}/review/", changed)
    assert response.status_code == 409


def test_a_saved_review_says_whether_the_reporter_is_emailed(supervisor_client, nurse, incident):
    """Noticed by a review of the product's text: "Review saved." left the supervisor to
    guess whether the reporter hears of it."""
    from incidents.models import QueuedEmail

    def review(**changes) -> str:
        incident.refresh_from_db()
        response = supervisor_client.post(
            f"/incidents/{incident.pk}/review/", review_data(incident, **changes), follow=True
        )
        return response.content.decode()

    def emails_to_reporter() -> int:
        return QueuedEmail.objects.filter(recipient=nurse).count()

    assert "The reporter is emailed that there is news." in review()
    assert emails_to_reporter() == 1
    page = review(internal_note="Spoke to the son again.")
    assert "Only what the reporter does not see changed" in page
    assert emails_to_reporter() == 1
    nurse.is_active = False
    nurse.save()
    assert "The reporter has left or has no email address here" in review(feedback="Thanks.")
    assert emails_to_reporter() == 1


def test_a_double_click_whose_first_save_lands_while_the_second_waits_is_not_a_conflict(
    supervisor_client, incident, monkeypatch
):
    """The second request read the incident before the first one committed, then found
    its own save behind the lock (found by a review helper)."""
    from incidents import services

    real = services.review_incident

    def first_click_lands_meanwhile(**kwargs):
        real(**{**kwargs, "request": None})
        return real(**kwargs)

    monkeypatch.setattr(services, "review_incident", first_click_lands_meanwhile)
    response = supervisor_client.post(
        f"/incidents/{incident.pk}/review/", review_data(incident), follow=True
    )
    assert response.redirect_chain
    assert b"Review saved." in response.content
    incident.refresh_from_db()
    assert incident.version == 1


def test_the_record_names_the_zone_of_each_time_in_the_hour_that_happens_twice(
    supervisor_client, incident
):
    """The incident's history, its addenda and its audit trail showed 01:30 twice on
    the night the clocks go back (Django's date filter leaves the zone out in that
    hour): which came first is part of the record (found by the time-zone review)."""
    from datetime import UTC, datetime

    from boundaries.models import AuditEvent
    from incidents.models import Addendum

    summer, winter = (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )
    supervisor_client.post(f"/incidents/{incident.pk}/review/", review_data(incident))
    assert IncidentEvent.objects.filter(incident=incident).exists()
    IncidentEvent.objects.filter(incident=incident).update(created_at=winter)
    added = Addendum.objects.create(incident=incident, author=incident.reporter, text="More.")
    Addendum.objects.filter(pk=added.pk).update(created_at=summer)
    page = supervisor_client.get(incident.get_absolute_url()).content.decode()
    assert "25 Oct 2026, 01:30 GMT" in page  # the history
    assert "25 Oct 2026, 01:30 BST" in page  # the addendum
    trail = AuditEvent.objects.for_object(incident)
    assert trail.exists()
    first = timezone.localtime(trail.first().occurred_at)
    assert f"{first.day} {first:%b %Y}, {first:%H:%M} {first.tzname()}" in page
