"""Drafts live on the server, survive a session that expires, and turn into exactly one
incident."""

import re
import time
import uuid

import pytest
from django.db import connection
from django.test import Client

from boundaries.sessions import SEEN_KEY, STARTED_KEY
from incidents import drafts
from incidents.forms import NO_LONGER_OFFERED
from incidents.models import Channel, Draft, Incident, RequestType
from scripts_library.models import Script, ScriptStatus
from tests.conftest import client_for
from tests.factories import TEST_PASSWORD, UserFactory, log_incident
from tests.incidents.conftest import incident_post, with_witnesses


def autosave(client, data):
    return client.post(f"/incidents/drafts/{data['submission_token']}/autosave/", data)


def test_autosave_keeps_the_draft_on_the_server(nurse_client, nurse, unit):
    data = incident_post(unit, description="He was waiting by the lifts again.")
    response = autosave(nurse_client, data)
    assert response.status_code == 200
    assert response.json()["saved_at"]
    draft = Draft.objects.get(pk=data["submission_token"])
    assert draft.owner == nurse
    assert draft.data["description"] == ["He was waiting by the lifts again."]
    assert "csrfmiddlewaretoken" not in draft.data


def test_autosave_previews_the_severity(nurse_client, unit):
    response = autosave(nurse_client, incident_post(unit, person_response="asked_again"))
    assert response.json()["severity"] == "Moderate"
    response = autosave(nurse_client, incident_post(unit, feels_unsafe="on"))
    assert response.json()["severity"] == "High"


def test_autosave_with_a_nul_in_a_choice_saves_and_previews_nothing(nurse_client, unit):
    """PostgreSQL refuses NUL in any text it compares: the preview once looked the raw
    value up (a server error), where the draft had it taken out."""
    data = incident_post(unit, request_type="personal-contact\x00")
    response = autosave(nurse_client, data)
    assert response.status_code == 200
    assert Draft.objects.get(pk=data["submission_token"]).data["request_type"] == [
        "personal-contact"
    ]


def test_autosave_updates_the_same_draft(nurse_client, unit):
    data = incident_post(unit, description="First words")
    autosave(nurse_client, data)
    data["description"] = "First words, and more"
    autosave(nurse_client, data)
    assert Draft.objects.get().data["description"] == ["First words, and more"]


def test_drafts_are_listed_on_the_home_page_and_open_with_their_values(nurse_client, unit):
    data = with_witnesses(
        incident_post(unit, description="Left a card with his number."),
        [("Dee Rosevear", "staff", ""), ("Fen Polwarth", "visitor", "")],
    )
    autosave(nurse_client, data)
    home = nurse_client.get("/incidents/")
    assert b"Drafts to finish" in home.content
    page = nurse_client.get(f"/incidents/drafts/{data['submission_token']}/")
    assert page.status_code == 200
    assert b"Left a card with his number." in page.content
    assert b"Fen Polwarth" in page.content
    assert data["submission_token"].encode() in page.content


def test_every_draft_can_be_reached_from_the_home_page(nurse_client, unit):
    # Found by a review helper: only the ten newest were listed, with no way to the rest.
    tokens = []
    for number in range(12):
        data = incident_post(unit, description=f"Interrupted report {number}.")
        assert autosave(nurse_client, data).status_code == 200
        tokens.append(data["submission_token"])
    first = nurse_client.get("/incidents/")
    page = first.content.decode()
    listed = [token for token in tokens if f"/incidents/drafts/{token}/" in page]
    assert listed == tokens[2:]  # the newest ten
    older = first.context["drafts"].next_cursor
    assert f'href="?drafts_after={older}"' in page
    page = nurse_client.get("/incidents/", {"drafts_after": older}).content.decode()
    assert [token for token in tokens if f"/incidents/drafts/{token}/" in page] == tokens[:2]
    assert "Older drafts" not in page and "Newest drafts" in page


def test_a_draft_reopens_with_both_clock_choices_it_needs(nurse_client, unit, supervisor):
    """A draft saved on the night the clocks went back offers the choice for the
    incident's time and for when the supervisor was told, with what was chosen."""
    data = incident_post(
        unit,
        occurred_date="2025-10-26",
        occurred_time="01:10",
        clock_choice="earlier",
        supervisor_told=str(supervisor.pk),
        supervisor_told_at="2025-10-26T01:50",
        told_clock_choice="later",
    )
    autosave(nurse_client, data)
    page = nurse_client.get(f"/incidents/drafts/{data['submission_token']}/").content
    assert b"01:10 BST" in page and b"01:10 GMT" in page
    assert b"01:50 BST" in page and b"01:50 GMT" in page
    chosen = re.findall(rb'<input [^>]*name="(\w+_choice)" value="(\w+)"[^>]* checked>', page)
    assert chosen == [(b"clock_choice", b"earlier"), (b"told_clock_choice", b"later")]


def test_a_form_carrying_a_colleagues_draft_is_not_filed_under_another_name(nurse_client, unit):
    """A report left on a shared screen when its author's session ended, sent by the
    colleague who signs in next, is refused: the author files it later herself (found by
    a review helper)."""
    data = incident_post(unit, description="He waited by my car.")
    assert autosave(nurse_client, data).status_code == 200
    colleague = client_for(UserFactory(units=[unit]))
    assert autosave(colleague, data).status_code == 409
    response = colleague.post("/incidents/new/", data)
    assert response.status_code == 400
    assert not Incident.objects.exists()
    assert Draft.objects.get(pk=data["submission_token"]).data["description"] == [
        "He waited by my car."
    ]
    response = nurse_client.post("/incidents/new/", data)
    assert response.status_code == 302
    assert Incident.objects.get().reporter.username == "nurse"


def test_a_form_drawn_for_one_person_is_never_saved_or_filed_under_another(nurse_client, unit):
    """Her session ended with the report on screen and a colleague signed in on the same
    browser: the page's saves and its sending are refused, so her words never go under
    his name (found by a review helper). Drawn for her, it saves as usual."""
    page = nurse_client.get("/incidents/new/").content.decode()
    token = re.search(r'name="submission_token" value="([0-9a-f-]+)"', page)[1]
    drawn_for = re.search(r'name="drawn_for" value="([^"]+)"', page)[1]
    data = incident_post(
        unit, submission_token=token, drawn_for=drawn_for, description="Her own account."
    )
    colleague = client_for(UserFactory(units=[unit]))
    response = autosave(colleague, data)
    assert response.status_code == 409
    assert response.json()["error"] == "another_person"
    assert colleague.post("/incidents/new/", data).status_code == 400
    assert colleague.post("/incidents/new/", {**data, "drawn_for": "forged"}).status_code == 400
    assert not Draft.objects.exists() and not Incident.objects.exists()

    assert autosave(nurse_client, data).status_code == 200
    assert nurse_client.post("/incidents/new/", data).status_code == 302
    assert Incident.objects.get().reporter.username == "nurse"


def test_save_and_finish_later(nurse_client, unit):
    data = incident_post(unit, action="save", location="")
    response = nurse_client.post("/incidents/new/", data)
    assert response.status_code == 302
    assert Draft.objects.filter(pk=data["submission_token"]).exists()
    assert not Incident.objects.exists()


def test_a_submission_with_errors_is_kept_as_a_draft(nurse_client, unit):
    data = incident_post(unit, location="")
    nurse_client.post("/incidents/new/", data)
    assert Draft.objects.get(pk=data["submission_token"]).data["description"]


def test_filing_removes_the_draft_and_later_autosaves_are_refused(nurse_client, unit):
    data = incident_post(unit)
    autosave(nurse_client, data)
    nurse_client.post("/incidents/new/", data)
    assert not Draft.objects.exists()
    response = autosave(nurse_client, data)
    assert response.status_code == 409
    assert not Draft.objects.exists()


def test_a_draft_survives_the_session_expiring(nurse_client, nurse, unit, settings):
    data = incident_post(unit, description="Words typed before the break.")
    autosave(nurse_client, data)
    session = nurse_client.session
    session[STARTED_KEY] = time.time() - 3600
    session[SEEN_KEY] = time.time() - settings.SESSION_IDLE_TIMEOUT.total_seconds() - 60
    session.save()

    expired = autosave(nurse_client, data)
    assert expired.status_code == 401
    assert expired.json() == {"error": "signed_out"}

    fresh = Client()
    fresh.post("/accounts/login/", {"username": "nurse", "password": TEST_PASSWORD})
    home = fresh.get("/incidents/")
    assert b"Drafts to finish" in home.content
    page = fresh.get(f"/incidents/drafts/{data['submission_token']}/")
    assert b"Words typed before the break." in page.content


def test_a_draft_sent_already_opens_as_the_report_it_became(
    nurse_client, other_unit_nurse_client, unit
):
    # The form's page goes here when the browser brings it back after it was sent.
    data = incident_post(unit)
    autosave(nurse_client, data)
    nurse_client.post("/incidents/new/", data)
    incident = Incident.objects.get()
    response = nurse_client.get(f"/incidents/drafts/{data['submission_token']}/", follow=True)
    assert response.redirect_chain == [(f"/incidents/{incident.pk}/filed/", 302)]
    assert f"This report was sent already, as {incident.reference}" in response.content.decode()
    # Nobody else learns that it exists.
    url = f"/incidents/drafts/{data['submission_token']}/"
    assert other_unit_nurse_client.get(url).status_code == 404


def test_nobody_else_can_open_or_overwrite_a_draft(nurse_client, other_unit_nurse_client, unit):
    data = incident_post(unit, description="Mine.")
    autosave(nurse_client, data)
    token = data["submission_token"]
    assert other_unit_nurse_client.get(f"/incidents/drafts/{token}/").status_code == 404
    assert autosave(other_unit_nurse_client, {**data, "description": "Theirs"}).status_code == 409
    assert Draft.objects.get().data["description"] == ["Mine."]
    response = other_unit_nurse_client.post(f"/incidents/drafts/{token}/delete/")
    assert response.status_code == 404
    assert Draft.objects.exists()


def test_deleting_a_draft(nurse_client, unit):
    data = incident_post(unit)
    autosave(nurse_client, data)
    response = nurse_client.post(f"/incidents/drafts/{data['submission_token']}/delete/")
    assert response.status_code == 302
    assert not Draft.objects.exists()


def test_deleting_a_draft_sent_meanwhile_from_another_tab_says_where_it_went(nurse_client, unit):
    """Found by review: "My incidents", drawn while the report was a draft, offered to
    delete it after another tab sent it; deleting answered "Page not found"."""
    data = incident_post(unit)
    autosave(nurse_client, data)
    nurse_client.post("/incidents/new/", data)
    incident = Incident.objects.get()

    response = nurse_client.post(
        f"/incidents/drafts/{data['submission_token']}/delete/", follow=True
    )

    assert response.redirect_chain == [(f"/incidents/{incident.pk}/filed/", 302)]
    assert f"This report was sent already, as {incident.reference}" in response.content.decode()
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_draft_pages_refuse_the_wrong_method(nurse_client, unit):
    token = uuid.uuid4()
    assert nurse_client.get(f"/incidents/drafts/{token}/autosave/").status_code == 405
    assert nurse_client.get(f"/incidents/drafts/{token}/delete/").status_code == 405


def test_forged_keys_are_not_kept_in_a_draft(nurse_client, unit):
    data = incident_post(unit, reporter="1", status="closed", **{"x" * 50: "junk"})
    autosave(nurse_client, data)
    stored = Draft.objects.get().data
    assert "reporter" not in stored and "status" not in stored and "x" * 50 not in stored


def test_administrators_cannot_keep_drafts(administrator_client, unit):
    response = autosave(administrator_client, incident_post(unit))
    assert response.status_code == 403
    assert not Draft.objects.exists()


def test_a_draft_with_a_null_character_is_kept_without_it(nurse_client, unit):
    data = incident_post(unit, description="Said \x00 this")
    assert autosave(nurse_client, data).status_code == 200
    assert Draft.objects.get().data["description"] == ["Said  this"]


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        # Each value a plain string, not a list of them: read whole, not cut to "H".
        ({"description": "He waited by the lifts.", "witnesses-0-name": "Dee"}, "He waited"),
        # A number, an object, an empty list where the form saves a list of strings.
        (
            {"description": ["Kept"], "location": 3, "own_words": {}, "witnesses-0-name": []},
            "Kept",
        ),
        # Not an object at all.
        (["He waited by the lifts."], "Report an incident"),
        ("He waited by the lifts.", "Report an incident"),
    ],
)
def test_a_draft_stored_in_another_shape_opens_with_what_can_be_read(
    nurse_client, nurse, unit, data, shown
):
    """A draft the form did not save (edited by hand, or by another version of the
    form) once opened as a server error: each value was read as a list of strings."""
    draft = Draft.objects.create(owner=nurse, data=data, revision=1)

    response = nurse_client.get(f"/incidents/drafts/{draft.pk}/")

    assert response.status_code == 200
    assert shown in response.content.decode()


@pytest.mark.parametrize(("stored", "ticked"), [(False, False), (True, True), (["on"], True)])
def test_a_draft_with_a_box_stored_as_true_or_false_opens_as_stored(nurse, unit, stored, ticked):
    """Found by review: ``false`` (JSON) was read as the string "False", which a
    checkbox shows ticked: the draft reopened saying "I feel unsafe"."""
    form, _ = drafts.forms_for(nurse, data={"description": ["x"], "feels_unsafe": stored})

    assert ("checked" in str(form["feels_unsafe"])) is ticked


def test_a_witness_restored_from_a_draft_can_be_cleared_away(nurse_client, unit):
    """A restored witness comes back as a form Django would not let be empty: clearing
    the row once gave "This field is required." with no way to remove them."""
    data = with_witnesses(incident_post(unit), [("Dee Rosevear", "staff", "")])
    autosave(nurse_client, data)
    page = nurse_client.get(f"/incidents/drafts/{data['submission_token']}/")
    assert page.context["formset"].initial_form_count() == 1
    data = incident_post(unit, submission_token=data["submission_token"])
    data.update(
        {
            "witnesses-INITIAL_FORMS": "1",
            "witnesses-TOTAL_FORMS": "2",
            "witnesses-1-name": "",
            "witnesses-1-role": "",
            "witnesses-1-contact": "",
        }
    )

    response = nurse_client.post("/incidents/new/", data)

    assert response.status_code == 302
    assert Incident.objects.get().witnesses.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writer at a time, so an autosave cannot wait on the filing "
    "there; PostgreSQL's row locks are what this checks.",
)
def test_an_autosave_waiting_on_the_filing_leaves_no_draft_behind(nurse, unit, monkeypatch):
    """The autosave once checked for the filed incident before waiting on the draft's
    row, then wrote a new draft once the filing had deleted it: a filed report shown
    as still to finish, with its patient reference, until the purge."""
    import threading

    from django.db import connections

    from incidents import services

    token = uuid.uuid4()
    services.save_draft(owner=nurse, draft_id=token, data={"description": ["typed"]})
    in_filing, go_on = threading.Event(), threading.Event()
    evaluate = services.alerts.evaluate_incident

    def slow_evaluate(*args, **kwargs):  # the draft's row deleted, not yet committed
        in_filing.set()
        go_on.wait(10)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(services.alerts, "evaluate_incident", slow_evaluate)

    def file():
        try:
            log_incident(nurse, token=token, unit=unit, description="typed")
        finally:
            connections.close_all()

    def save():
        try:
            services.save_draft(owner=nurse, draft_id=token, data={"description": ["typed"]})
        finally:
            connections.close_all()

    filing = threading.Thread(target=file)
    filing.start()
    assert in_filing.wait(10)
    saving = threading.Thread(target=save)
    saving.start()
    time.sleep(0.5)  # the autosave now waits on the draft's row
    go_on.set()
    filing.join(10)
    saving.join(10)

    assert Incident.objects.filter(submission_token=token).exists()
    assert not Draft.objects.filter(pk=token).exists()


def _drawn(client, url: str) -> dict:
    """The hidden fields a page of the form was drawn with (its token, owner mark, page)."""
    import re

    page = client.get(url).content.decode()
    return {
        name: value
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
        if not name.startswith("witnesses-") and name != "csrfmiddlewaretoken"
    }


def _first_page_saved(client, unit) -> tuple[dict, str]:
    """A new report's page (its hidden fields kept) that has saved a draft once, and the
    draft's address."""
    first = incident_post(unit, description="He waited by my car.")
    first.update(
        _drawn(client, "/incidents/new/") | {"submission_token": first["submission_token"]}
    )
    assert autosave(client, first).status_code == 200
    return first, f"/incidents/drafts/{first['submission_token']}/"


def test_an_older_tab_never_overwrites_what_a_newer_one_saved(nurse_client, unit):
    # Found by a review helper: the draft was open in two tabs; the older tab's next
    # keystroke replaced the whole draft, dropping the witness added in the newer one.
    first, draft_url = _first_page_saved(nurse_client, unit)
    older = {**first, **_drawn(nurse_client, draft_url)}
    newer = {**first, **_drawn(nurse_client, draft_url)}
    assert older["page"] != newer["page"]

    newer = with_witnesses(newer, [("Dee Rosevear", "staff", "Ward A, ext 4410")])
    assert autosave(nurse_client, newer).status_code == 200
    assert autosave(nurse_client, newer).status_code == 200  # the same tab, again

    response = autosave(nurse_client, {**older, "location": "Bay 3, by the window"})
    assert response.status_code == 409
    assert response.json()["error"] == "changed_elsewhere"
    response = nurse_client.post("/incidents/new/", {**older, "location": "Bay 3, by the window"})
    assert response.status_code == 409
    assert "changed in another tab or window" in response.content.decode()
    response = nurse_client.post("/incidents/new/", {**older, "action": "save"})
    assert response.status_code == 409
    assert not Incident.objects.exists()
    assert Draft.objects.get().data["witnesses-0-name"] == ["Dee Rosevear"]

    # The newer tab files the report, witness and all.
    assert nurse_client.post("/incidents/new/", newer).status_code == 302
    assert [w.name for w in Incident.objects.get().witnesses.all()] == ["Dee Rosevear"]


def test_the_refused_older_page_shown_again_stays_refused(nurse_client, unit):
    # Found by a review helper: shown again as drawn after the newer tab's save, the
    # refused page's next keystroke overwrote that save.
    first, draft_url = _first_page_saved(nurse_client, unit)
    older = {**first, **_drawn(nurse_client, draft_url)}
    newer = with_witnesses(
        {**first, **_drawn(nurse_client, draft_url)}, [("Dee Rosevear", "staff", "Ward A")]
    )
    assert autosave(nurse_client, newer).status_code == 200
    refused = nurse_client.post("/incidents/new/", {**older, "location": "Bay 3"})
    assert refused.status_code == 409
    import re

    shown_again = {
        **older,
        "location": "Bay 3",
        **dict(
            re.findall(
                r'<input type="hidden" name="(page\w*)" value="([^"]*)"', refused.content.decode()
            )
        ),
    }
    assert shown_again["page"] == older["page"] and "page_revision" in shown_again
    assert autosave(nurse_client, shown_again).status_code == 409
    assert nurse_client.post("/incidents/new/", shown_again).status_code == 409
    assert Draft.objects.get().data.get("witnesses-0-name") == ["Dee Rosevear"]


def test_the_last_save_of_the_page_a_reload_replaced_does_not_refuse_the_new_page(
    nurse_client, unit
):
    # Found by a review helper: the leaving page's last save can land after the reload
    # is drawn; the reloaded page names the page it replaced in its tab.
    first, draft_url = _first_page_saved(nurse_client, unit)
    opened = {**first, **_drawn(nurse_client, draft_url)}
    reloaded = {**first, **_drawn(nurse_client, draft_url), "page_before": opened["page"]}
    assert autosave(nurse_client, {**opened, "location": "Bay 3"}).status_code == 200
    response = autosave(nurse_client, {**reloaded, "location": "Bay 3, by the window"})
    assert response.status_code == 200
    assert Draft.objects.get().data["location"] == ["Bay 3, by the window"]


@pytest.mark.parametrize("retired", ["request_type", "channel", "script_version"])
def test_a_draft_whose_choice_was_retired_since_is_sent_back_with_the_field_to_choose_again(
    nurse_client, unit, approved_script, retired
):
    """A request type or channel deactivated, or a script retired, after the draft was
    saved: the report is not filed, the field says so, and the rest is kept."""
    data = incident_post(
        unit,
        description="He was waiting by the lifts again.",
        script_version=str(approved_script.pk),
        own_words="",
    )
    autosave(nurse_client, data)
    if retired == "request_type":
        RequestType.objects.filter(code=data["request_type"]).update(is_active=False)
    elif retired == "channel":
        Channel.objects.filter(code=data["channel"]).update(is_active=False)
    else:
        Script.objects.filter(pk=approved_script.script_id).update(status=ScriptStatus.RETIRED)
    assert nurse_client.get(f"/incidents/drafts/{data['submission_token']}/").status_code == 200

    response = nurse_client.post("/incidents/new/", data)

    assert response.status_code == 200
    assert response.context["form"].errors[retired] == [NO_LONGER_OFFERED[retired]]
    assert "He was waiting by the lifts again." in response.content.decode()
    assert not Incident.objects.exists()
    assert Draft.objects.filter(pk=data["submission_token"]).exists()
