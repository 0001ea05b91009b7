"""Bad input gets a clear message next to the field, the input is kept, and nothing
half-saved remains."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from tests.incidents.conftest import incident_post, with_witnesses


def errors_for(client, unit, **overrides):
    response = client.post("/incidents/new/", incident_post(unit, **overrides))
    assert response.status_code == 200, response.status_code
    assert not Incident.objects.exists()
    return response, response.context["form"].errors


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("location", "", "This field is required."),
        ("location", "   ", "This field is required."),
        ("description", "", "This field is required."),
        ("description", "x" * 5001, "at most 5000 characters"),
        ("location", "x" * 121, "at most 120 characters"),
        ("request_type", "no-such-type", "That kind of request is not on the list"),
        ("person_response", "", "This field is required."),
        ("patient_reference", "943 476 5918", "not a valid NHS number"),
        ("patient_reference", "", "Enter the patient's NHS number"),
        ("occurred_date", "31/02/2026", "Enter a valid date."),
        ("description", "Said \x00 this", "Null characters are not allowed."),
        ("description", "Said \x1b[31m this", "invisible control characters"),
    ],
)
def test_each_field_says_what_is_wrong(nurse_client, unit, field, value, message):
    _, errors = errors_for(nurse_client, unit, **{field: value})
    assert message in " ".join(errors[field])


def test_a_hospital_number_is_named_in_plain_words(nurse_client, unit, settings):
    """Mid-sentence, "hospital number" has no capital (it read "the patient's Hospital
    number")."""
    settings.BOUNDARIES = {**settings.BOUNDARIES, "PATIENT_REF_SCHEME": "hospital"}
    response, errors = errors_for(nurse_client, unit, patient_reference="")
    assert errors["patient_reference"] == [
        "Enter the patient's hospital number, so that repeat patterns can be seen."
    ]
    assert response.context["form"]["patient_reference"].label == "Patient's hospital number"


def test_what_was_typed_is_kept_after_an_error(nurse_client, unit):
    response, _ = errors_for(
        nurse_client, unit, location="", description="He said he would wait by my car."
    )
    assert b"He said he would wait by my car." in response.content
    assert b"Some answers need a second look" in response.content


def test_someone_else_needs_no_patient_reference(nurse_client, unit):
    nurse_client.post(
        "/incidents/new/", incident_post(unit, other_party="other", patient_reference="")
    )
    assert Incident.objects.get().patient is None


def test_own_words_are_needed_when_no_script_was_used(nurse_client, unit):
    _, errors = errors_for(nurse_client, unit, own_words="")
    assert "Choose the script you used, or write the words you said." in str(errors["own_words"])


def test_a_time_in_the_future_is_refused(nurse_client, unit):
    later = timezone.localtime() + timedelta(hours=2)
    _, errors = errors_for(
        nurse_client,
        unit,
        occurred_date=later.strftime("%Y-%m-%d"),
        occurred_time=later.strftime("%H:%M"),
    )
    assert "in the future" in str(errors["occurred_time"])


def test_own_words_written_beside_a_chosen_script_are_not_dropped(
    nurse_client, unit, approved_script
):
    """Only one of them is recorded as what was said: the reporter chooses, rather
    than their own words vanishing behind the script's."""
    words = "I said the ward line is best, and that my number stays private."
    response, errors = errors_for(
        nurse_client, unit, script_version=str(approved_script.pk), own_words=words
    )
    assert "Keep the one you said" in str(errors["own_words"])
    assert words in response.content.decode()


def test_a_date_in_year_one_is_refused_by_the_date(nurse_client, unit):
    """A slip of the date picker; once it passed the form and failed in the pattern
    rules (a server error)."""
    response, errors = errors_for(
        nurse_client, unit, occurred_date="0001-01-01", late_reason="Remembered only now."
    )
    assert "Give a date from 1 January 2000 onwards." in str(errors["occurred_date"])
    assert 'value="0001-01-01"' in response.content.decode()


def test_a_supervisor_told_in_year_one_is_refused_by_that_field(nurse_client, unit, supervisor):
    _, errors = errors_for(
        nurse_client,
        unit,
        supervisor_told=str(supervisor.pk),
        supervisor_told_at="0001-01-01T09:00",
    )
    assert "Give a date from 1 January 2000 onwards." in str(errors["supervisor_told_at"])


def test_a_few_minutes_of_clock_skew_is_allowed(nurse_client, unit):
    soon = timezone.localtime() + timedelta(minutes=3)
    nurse_client.post(
        "/incidents/new/",
        incident_post(
            unit, occurred_date=soon.strftime("%Y-%m-%d"), occurred_time=soon.strftime("%H:%M")
        ),
    )
    assert Incident.objects.count() == 1


def test_an_old_incident_needs_a_reason_for_the_late_report(nurse_client, unit):
    old = timezone.localtime() - timedelta(days=45)
    dated = {"occurred_date": old.strftime("%Y-%m-%d"), "occurred_time": "10:00"}
    _, errors = errors_for(nurse_client, unit, **dated)
    assert "more than 30 days ago" in str(errors["late_reason"])
    nurse_client.post(
        "/incidents/new/", incident_post(unit, late_reason="I was on leave.", **dated)
    )
    assert Incident.objects.get().late_reason == "I was on leave."


def test_an_ambiguous_time_offers_bst_or_gmt_and_is_then_accepted(nurse_client, unit):
    dated = {"occurred_date": "2025-10-26", "occurred_time": "01:30"}
    response, errors = errors_for(nurse_client, unit, late_reason="Testing.", **dated)
    assert "happened twice" in str(errors["clock_choice"])
    assert b"01:30 BST" in response.content and b"01:30 GMT" in response.content
    nurse_client.post(
        "/incidents/new/",
        incident_post(unit, late_reason="Testing.", clock_choice="later", **dated),
    )
    incident = Incident.objects.get()
    assert incident.occurred_at.isoformat() == "2025-10-26T01:30:00+00:00"


def test_a_time_that_did_not_exist_offers_the_times_either_side(nurse_client, unit):
    dated = {"occurred_date": "2025-03-30", "occurred_time": "01:30"}
    response, errors = errors_for(nurse_client, unit, late_reason="Testing.", **dated)
    assert "did not exist" in str(errors["clock_choice"])
    assert b"00:30 GMT" in response.content and b"02:30 BST" in response.content
    nurse_client.post(
        "/incidents/new/",
        incident_post(unit, late_reason="Testing.", clock_choice="earlier", **dated),
    )
    assert Incident.objects.get().occurred_at.isoformat() == "2025-03-30T00:30:00+00:00"


def test_telling_the_supervisor_in_the_repeated_hour_offers_bst_or_gmt(
    nurse_client, unit, supervisor
):
    told = {
        "occurred_date": "2025-10-26",
        "occurred_time": "00:40",
        "late_reason": "Testing.",
        "supervisor_told": str(supervisor.pk),
        "supervisor_told_at": "2025-10-26T01:20",
    }
    response, errors = errors_for(nurse_client, unit, **told)
    assert "happened twice" in str(errors["told_clock_choice"])
    assert "supervisor_told_at" not in errors
    assert b"01:20 BST" in response.content and b"01:20 GMT" in response.content
    # What was typed stays in the field.
    assert b'value="2025-10-26T01:20"' in response.content
    nurse_client.post("/incidents/new/", incident_post(unit, told_clock_choice="later", **told))
    incident = Incident.objects.get()
    assert incident.supervisor_told_at.isoformat() == "2025-10-26T01:20:00+00:00"
    page = nurse_client.get(f"/incidents/{incident.pk}/")
    assert b"01:20 GMT (UTC+00:00)" in page.content


def test_telling_the_supervisor_at_a_time_that_did_not_exist_asks_which(
    nurse_client, unit, supervisor
):
    told = {
        "occurred_date": "2025-03-30",
        "occurred_time": "00:10",
        "late_reason": "Testing.",
        "supervisor_told": str(supervisor.pk),
        "supervisor_told_at": "2025-03-30T01:30",
    }
    _, errors = errors_for(nurse_client, unit, **told)
    assert "did not exist" in str(errors["told_clock_choice"])
    nurse_client.post("/incidents/new/", incident_post(unit, told_clock_choice="earlier", **told))
    told_at = Incident.objects.get().supervisor_told_at
    assert told_at.isoformat() == "2025-03-30T00:30:00+00:00"


def test_told_in_the_repeated_hour_half_an_hour_before_it_happened_is_refused(
    nurse_client, unit, supervisor
):
    """The incident at 02:03 GMT, the supervisor told at 01:30 GMT (the second 01:30):
    before it. Five minutes taken off 02:03 on the local clock landed in the repeated
    hour, read as BST, an hour too early, and the told time passed."""
    told = {
        "occurred_date": "2026-10-25",
        "occurred_time": "02:03",
        "late_reason": "Testing.",
        "supervisor_told": str(supervisor.pk),
        "supervisor_told_at": "2026-10-25T01:30",
        "told_clock_choice": "later",
    }
    _, errors = errors_for(nurse_client, unit, **told)
    assert "before the incident happened" in str(errors["supervisor_told_at"])


def test_told_in_the_skipped_hour_after_it_happened_is_accepted(nurse_client, unit, supervisor):
    """The incident at 02:04 BST, the supervisor told at 02:58 BST (typed 01:58, a time
    that did not exist, and the later reading chosen). Five minutes taken off 02:04 on
    the local clock landed in the skipped hour, read as GMT, an hour too late, and the
    told time was refused as before the incident."""
    told = {
        "occurred_date": "2026-03-29",
        "occurred_time": "02:04",
        "late_reason": "Testing.",
        "supervisor_told": str(supervisor.pk),
        "supervisor_told_at": "2026-03-29T01:58",
        "told_clock_choice": "later",
    }
    nurse_client.post("/incidents/new/", incident_post(unit, **told))
    told_at = Incident.objects.get().supervisor_told_at
    assert told_at.isoformat() == "2026-03-29T01:58:00+00:00"


def test_the_supervisor_cannot_have_been_told_before_it_happened(nurse_client, unit, supervisor):
    happened = timezone.localtime() - timedelta(hours=1)
    told = (happened - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response, errors = errors_for(
        nurse_client, unit, supervisor_told=str(supervisor.pk), supervisor_told_at=told
    )
    assert "before the incident happened" in str(errors["supervisor_told_at"])
    assert f'value="{told}"'.encode() in response.content
    assert not Incident.objects.exists()


def test_witnesses_are_capped_with_a_clear_message(nurse_client, unit):
    data = with_witnesses(incident_post(unit), [(f"Witness {i}", "staff", "") for i in range(7)])
    response = nurse_client.post("/incidents/new/", data)
    assert response.status_code == 200
    assert "up to 6 witnesses" in str(response.context["formset"].non_form_errors())
    assert not Incident.objects.exists()


def test_a_witness_needs_a_name(nurse_client, unit):
    data = with_witnesses(incident_post(unit), [("", "staff", "ext 4321")])
    response = nurse_client.post("/incidents/new/", data)
    assert "Give the witness's name." in str(response.context["formset"].errors)


def test_a_witness_row_does_not_look_required(nurse_client):
    """Witnesses are optional: no field of an empty row is marked with an asterisk (the
    role was, and a reporter with no witness read it as having to choose one)."""
    page = nurse_client.get("/incidents/new/").content.decode()
    rows = page.split('id="witness-forms"', 1)[1].split('id="add-witness"', 1)[0]
    assert "Role" in rows
    assert "asteriskField" not in rows


@pytest.mark.parametrize(
    "row", [("Dee Rosevear", "", ""), ("", "", "Bay 4"), ("Dee Rosevear", "", "ext 4321")]
)
def test_a_witness_row_with_anything_in_it_needs_a_role(nurse_client, unit, row):
    data = with_witnesses(incident_post(unit), [row])
    response = nurse_client.post("/incidents/new/", data)
    assert response.context["formset"].errors[0]["role"] == [
        "Choose the witness's role. If there was no witness, leave the row empty."
    ]
    assert not Incident.objects.exists()


def test_a_witness_row_left_empty_is_no_witness(nurse_client, unit):
    response = nurse_client.post(
        "/incidents/new/", with_witnesses(incident_post(unit), [("", "", "")])
    )
    assert response.status_code == 302
    assert not Incident.objects.get().witnesses.exists()


@pytest.mark.parametrize("spaces", ["  ", "\u00a0", " \n "])
def test_a_patient_witness_named_with_spaces_alone_is_filed_unnamed(nurse_client, unit, spaces):
    """Spaces are no name: the row is a patient's, unnamed. They were once kept, and the
    database's rule that a patient's name is empty turned the filing into a 500 (found
    by review)."""
    from incidents.models import Witness

    post = with_witnesses(incident_post(unit), [(spaces, "patient", "Bay 4, bed 2")])

    assert nurse_client.post("/incidents/new/", post).status_code == 302
    assert Witness.objects.get().name == ""


def test_a_patient_witness_is_never_named(nurse_client, unit):
    """No patient names are kept: a patient who saw it is recorded by where they were
    (found by a review helper: the name was required and stored)."""
    from incidents.models import Witness

    named = with_witnesses(incident_post(unit), [("Morwenna Pascoe", "patient", "Bay 4")])
    response = nurse_client.post("/incidents/new/", named)
    assert "no patient names are kept" in str(response.context["formset"].errors)
    assert "Morwenna Pascoe" in response.content.decode()  # kept on screen to clear
    assert not Incident.objects.exists()

    unnamed = with_witnesses(incident_post(unit), [("", "patient", "Bay 4, bed 2")])
    assert nurse_client.post("/incidents/new/", unnamed).status_code == 302
    witness = Witness.objects.get()
    assert (witness.name, witness.described) == ("", "A patient, Bay 4, bed 2")
    page = nurse_client.get(f"/incidents/{witness.incident_id}/")
    assert b"A patient, Bay 4, bed 2" in page.content


def test_the_database_refuses_a_named_patient_witness(nurse):
    from django.db import IntegrityError, transaction

    from incidents.models import Witness
    from tests.factories import IncidentFactory

    incident = IncidentFactory(reporter=nurse)
    for name, role in [("Morwenna Pascoe", "patient"), ("", "staff")]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Witness.objects.create(incident=incident, name=name, role=role)


@pytest.mark.django_db(transaction=True)
def test_the_migration_forgets_patient_witnesses_names():
    """Back before the rule, a named patient witness; forward again, the name is gone
    and where they were stays."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from incidents.models import Witness
    from tests.factories import IncidentFactory

    before = [("incidents", "0007_feedback_by")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        # The incident table is the same before and after; only witnesses changed.
        incident = IncidentFactory()
        old_witness = executor.loader.project_state(before).apps.get_model("incidents", "Witness")
        old_witness.objects.create(
            incident_id=incident.pk, name="Morwenna Pascoe", role="patient", contact="Bay 4"
        )
        old_witness.objects.create(incident_id=incident.pk, name="Dee Rosevear", role="staff")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert sorted(Witness.objects.values_list("name", "role", "contact")) == [
        ("", "patient", "Bay 4"),
        ("Dee Rosevear", "staff", ""),
    ]


def test_supervisor_told_needs_who_and_when(nurse_client, unit, supervisor):
    _, errors = errors_for(nurse_client, unit, supervisor_told=str(supervisor.pk))
    assert "Say when you told them." in str(errors["supervisor_told_at"])


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script><b>bold</b>",
        "{{ request.user.password }} {% debug %}",
        "\u202eright-to-left override \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
        "emoji \U0001f600\U0001f469\u200d\u2695\ufe0f and combining e\u0301",
    ],
)
def test_odd_text_is_stored_exactly_and_shown_as_text(nurse_client, unit, text):
    nurse_client.post("/incidents/new/", incident_post(unit, description=text))
    incident = Incident.objects.get()
    assert incident.description == text
    page = nurse_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "<script>alert" not in page
    assert "<b>bold</b>" not in page
    if "{{" in text:
        assert "{{ request.user.password }}" in page


def test_a_date_or_time_html_cannot_hold_is_refused_and_not_drawn_back(
    nurse_client, unit, supervisor
):
    """Only a hand-edited request sends these; the field says what is wrong and is drawn
    empty, as HTML allows nothing else there."""
    response, errors = errors_for(
        nurse_client,
        unit,
        occurred_date="2026-13-01",
        occurred_time="25:61",
        supervisor_told=str(supervisor.pk),
        supervisor_told_at="2026-02-30T09:00",
    )
    assert set(errors) >= {"occurred_date", "occurred_time", "supervisor_told_at"}
    page = response.content.decode()
    assert "2026-13-01" not in page and "25:61" not in page and "2026-02-30" not in page


def test_witness_rows_without_their_count_get_a_plain_message(nurse_client, unit):
    data = {
        key: value
        for key, value in incident_post(unit).items()
        if not key.startswith("witnesses-") or key.endswith("-name")
    }
    response = nurse_client.post("/incidents/new/", data)
    assert response.status_code == 200
    assert "The witnesses could not be read." in response.content.decode()
    assert "bug report" not in response.content.decode()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("typed", ["0001-01-01T00:00+01:00", "9999-12-31T23:30-05:00"])
def test_a_told_time_with_an_offset_past_the_calendar_is_a_field_error(
    nurse_client, unit, supervisor, typed
):
    """Found by a review helper: a server error."""
    _, errors = errors_for(
        nurse_client, unit, supervisor_told=str(supervisor.pk), supervisor_told_at=typed
    )
    assert "supervisor_told_at" in errors
