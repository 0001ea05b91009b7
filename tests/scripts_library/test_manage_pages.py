"""Looking after the library through its own pages: write, propose, approve or send back,
retire; and who may do each."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boundaries.models import Role
from incidents.models import Channel, Incident, RequestType
from scripts_library import services
from scripts_library.models import Script, ScriptVersion
from scripts_library.services import draft_script, propose_version
from tests.conftest import client_for
from tests.factories import IncidentFactory, ScriptFactory, UserFactory, script_category


def _form(**overrides) -> dict:
    data = {
        "title": "Gift: a kind no",
        "text": "Thank you, that's kind, but I can't accept gifts.",
        "guidance": "Hand anything left behind to your line manager.",
        "category": script_category("gifts-favours").pk,
        "stage": "first",
        "request_types": [RequestType.objects.get(code="gifts").pk],
        "channels": [Channel.objects.get(code="in-person").pk],
    }
    return {**data, **overrides}


def _words(**overrides) -> dict:
    """A version's words and placement, as the services take them."""
    return {
        "title": "Gift: a kind no",
        "text": "Thanks, but no.",
        "guidance": "",
        "category": script_category("gifts-favours"),
        "stage": "first",
        "request_types": [RequestType.objects.get(code="gifts")],
        **overrides,
    }


def _proposed_by(author) -> ScriptVersion:
    script = draft_script(author=author, **_words())
    return propose_version(proposer=author, version=script.versions.get())


# --- Writing -------------------------------------------------------------------------------


def test_supervisor_writes_a_new_script_as_a_draft(supervisor_client, supervisor):
    response = supervisor_client.post("/scripts/manage/new/", _form())

    script = Script.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/scripts/manage/{script.pk}/"
    version = script.versions.get()
    assert (version.state, version.author, version.text) == (
        "draft",
        supervisor,
        "Thank you, that's kind, but I can't accept gifts.",
    )
    assert list(version.channels.values_list("code", flat=True)) == ["in-person"]
    page = supervisor_client.get(response["Location"]).content.decode()
    assert "Draft saved." in page
    assert "Propose for approval" in page


def test_a_new_script_sent_twice_is_made_once(supervisor_client):
    """A double click on "Save draft" (found by a review helper: two scripts, which can
    never be deleted)."""
    page = supervisor_client.get("/scripts/manage/new/").content.decode()
    (token,) = re.findall(r'name="token" value="([0-9a-f-]{36})"', page)
    first = supervisor_client.post("/scripts/manage/new/", _form(token=token))
    second = supervisor_client.post("/scripts/manage/new/", _form(token=token))
    script = Script.objects.get()
    assert first["Location"] == second["Location"] == f"/scripts/manage/{script.pk}/"
    # A form with errors keeps its token, so correcting it still makes one script.
    errors = supervisor_client.post("/scripts/manage/new/", _form(title="", token=token))
    assert f'name="token" value="{token}"' in errors.content.decode()


def test_invalid_script_re_renders_with_messages_and_keeps_the_input(supervisor_client):
    too_long = "I am sorry. " + "Really " * 50 + "no."
    response = supervisor_client.post(
        "/scripts/manage/new/",
        _form(title="My own title", text=too_long, request_types=[], category=""),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Choose at least one situation." in page
    assert "Ensure this value has at most 300 characters" in page
    assert 'value="My own title"' in page
    assert "Really Really" in page
    assert not Script.objects.exists()


@pytest.mark.parametrize("field", ["request_types", "channels"])
@pytest.mark.parametrize("key", ["99999999999999999999999", "--5"])
def test_an_id_no_column_can_hold_is_an_unknown_choice(supervisor_client, field, key):
    """Found by a review helper: a server error on SQLite."""
    supervisor_client.raise_request_exception = False
    response = supervisor_client.post("/scripts/manage/new/", _form(**{field: [key]}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Script.objects.exists()


def test_words_of_more_than_two_sentences_are_refused(supervisor_client):
    response = supervisor_client.post(
        "/scripts/manage/new/", _form(text="No. Sorry. I can't. Really.")
    )
    assert "Keep it to one or two sentences" in response.content.decode()


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        # Found by a review helper: abbreviations counted as sentence ends.
        ("I can't share my number. Please call the ward between 8 a.m. and 8 p.m.", 2),
        ("I can't accept gifts, e.g. money or vouchers. Thank you, though.", 2),
        ("That's for Dr. Patel to answer. Let's ask at the ward round.", 2),
        ("\u201cNo.\u201d I\u2019m sorry!", 2),
        ("No. Sorry. I can't", 3),
        ("One sentence without a full stop", 1),
    ],
)
def test_sentences_are_counted_as_a_reader_would(text, sentences):
    from scripts_library.forms import sentence_count

    assert sentence_count(text) == sentences


def test_two_sentences_with_abbreviations_are_accepted(supervisor_client):
    text = "I can't share my number. Please call the ward between 8 a.m. and 8 p.m."
    response = supervisor_client.post("/scripts/manage/new/", _form(text=text))
    assert response.status_code == 302
    assert Script.objects.get().versions.get().text == text


def test_editing_an_approved_script_starts_from_its_words_and_makes_a_new_version(
    supervisor_client,
):
    script = ScriptFactory(request_types=["gifts"], version__text="Old words.")

    form_page = supervisor_client.get(f"/scripts/manage/{script.pk}/edit/").content.decode()
    response = supervisor_client.post(
        f"/scripts/manage/{script.pk}/edit/", _form(text="New words.")
    )

    assert "Old words." in form_page
    assert "Staff keep seeing the approved words" in form_page
    assert response.status_code == 302
    script.refresh_from_db()
    assert script.current_version.text == "Old words."
    assert list(script.versions.values_list("number", "state")) == [(2, "draft"), (1, "approved")]


def _as_drawn(client, script, **words) -> dict:
    """An edit as the edit page sends it: with the mark of the words the page showed."""
    page = client.get(f"/scripts/manage/{script.pk}/edit/").content.decode()
    seen = re.findall(r'name="seen" value="([^"]+)"', page)
    return {**_form(**words), **({"seen": seen[0]} if seen else {})}


def test_an_edit_page_drawn_before_a_colleagues_draft_does_not_overwrite_it(
    supervisor, supervisor_client, unit
):
    """Found by review: two writers opened the edit page; the second to save replaced the
    first one's draft with words drawn from before it, unseen, and became its author."""
    script = ScriptFactory(request_types=["gifts"], version__text="Old words.")
    colleague = UserFactory(role=Role.SUPERVISOR, units=[unit])
    colleague.groups.add(*supervisor.groups.all())
    colleague_client = client_for(colleague)
    stale = _as_drawn(supervisor_client, script, text="My words.")
    colleague_client.post(
        f"/scripts/manage/{script.pk}/edit/",
        _as_drawn(colleague_client, script, text="Their words."),
    )

    response = supervisor_client.post(f"/scripts/manage/{script.pk}/edit/", stale)

    assert response.status_code == 409
    page = response.content.decode()
    assert "changed after you opened this page, so yours were not saved" in page
    assert "Their words." in page  # the words as they are now
    assert "My words.</textarea>" in page  # and what was typed, kept
    draft = script.versions.get(number=2)
    assert (draft.text, draft.author) == ("Their words.", colleague)
    # Sent again from the page as drawn now, it is saved.
    again = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    response = supervisor_client.post(
        f"/scripts/manage/{script.pk}/edit/", {**stale, "seen": again}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.text, draft.author) == ("My words.", supervisor)


def test_an_edit_sent_twice_saves_once(supervisor_client):
    """A double click: the second sending finds its own words saved, not a colleague's."""
    script = ScriptFactory(request_types=["gifts"], version__text="Old words.")
    data = _as_drawn(supervisor_client, script, text="New words.")
    assert supervisor_client.post(f"/scripts/manage/{script.pk}/edit/", data).status_code == 302

    response = supervisor_client.post(f"/scripts/manage/{script.pk}/edit/", data)

    assert response.status_code == 302
    assert list(script.versions.values_list("number", "text")) == [
        (2, "New words."),
        (1, "Old words."),
    ]


def test_an_edit_sent_with_mistakes_from_a_stale_page_stays_refused(
    supervisor, supervisor_client, unit
):
    """Drawn again with its mistakes, the page still carries the words it was drawn from:
    correcting the mistake does not make it look as if it had seen a colleague's draft."""
    script = ScriptFactory(request_types=["gifts"], version__text="Old words.")
    stale = _as_drawn(supervisor_client, script, text="My words.")
    services.edit_script(editor=supervisor, script=script, **_words(text="Their words."))

    with_mistake = supervisor_client.post(
        f"/scripts/manage/{script.pk}/edit/", {**stale, "title": ""}
    )
    response = supervisor_client.post(f"/scripts/manage/{script.pk}/edit/", stale)

    assert stale["seen"] in with_mistake.content.decode()
    assert response.status_code == 409
    assert script.versions.get(number=2).text == "Their words."


def test_supervisor_proposes_a_draft(supervisor_client, supervisor):
    supervisor_client.post("/scripts/manage/new/", _form())
    script = Script.objects.get()
    version = script.versions.get()

    response = supervisor_client.post(f"/scripts/manage/versions/{version.pk}/propose/")

    version.refresh_from_db()
    assert response.status_code == 302
    assert version.state == "proposed"
    page = supervisor_client.get(f"/scripts/manage/{script.pk}/").content.decode()
    assert "waiting for a manager who approves scripts" in page
    assert "Approve" not in page


def _sent_from_page(client, version, action: str, data: dict) -> tuple[str, str]:
    """A proposal or decision sent from a page: the version's state after it, and the
    page the sender is shown."""
    response = client.post(f"/scripts/manage/versions/{version.pk}/{action}/", data, follow=True)
    version.refresh_from_db()
    return version.state, response.content.decode()


def _propose_as_drawn(client, version) -> dict:
    """A proposal as the script's page sends it: with the mark of the words it showed."""
    page = client.get(f"/scripts/manage/{version.script_id}/").content.decode()
    seen = re.findall(r'name="seen" value="([^"]+)"', page)
    return {"seen": seen[0]} if seen else {}


def test_words_changed_since_the_page_was_read_are_not_proposed(
    supervisor, supervisor_client, unit
):
    """Found by review: a co-writer rewrote the draft while the page offering "Propose"
    was open; proposing put forward words its proposer had not read."""
    script = draft_script(author=supervisor, **_words(text="First words."))
    version = script.versions.get()
    read = _propose_as_drawn(supervisor_client, version)
    services.edit_script(editor=supervisor, script=script, **_words(text="Rewritten words."))

    state, page = _sent_from_page(supervisor_client, version, "propose", read)

    assert state == "draft"
    assert "changed after you opened the page" in page
    assert "Rewritten words." in page


def test_a_proposal_sent_twice_is_proposed_once_without_an_error(supervisor, supervisor_client):
    script = draft_script(author=supervisor, **_words())
    version = script.versions.get()
    read = _propose_as_drawn(supervisor_client, version)
    supervisor_client.post(f"/scripts/manage/versions/{version.pk}/propose/", read)

    state, page = _sent_from_page(supervisor_client, version, "propose", read)

    assert state == "proposed"
    assert "Only a draft can be proposed" not in page


def test_proposing_words_decided_on_meanwhile_says_so(supervisor, supervisor_client, manager):
    """Found by review: approved by a manager while the page was open, Propose said the
    words "were changed after you opened the page", which they were not."""
    script = draft_script(author=supervisor, **_words())
    version = script.versions.get()
    read = _propose_as_drawn(supervisor_client, version)
    propose_version(proposer=supervisor, version=version)
    services.approve_version(approver=manager, version=version)

    state, page = _sent_from_page(supervisor_client, version, "propose", read)

    assert state == "approved"
    assert "A manager decided on these words after you opened the page" in page
    assert "changed after you opened the page" not in page


# --- Deciding ------------------------------------------------------------------------------


def _as_read(client, version, **data) -> dict:
    """A decision as the approver's page sends it: with the proposal the page showed."""
    page = client.get(f"/scripts/manage/{version.script_id}/").content.decode()
    (seen,) = set(re.findall(r'name="proposed" value="([^"]+)"', page))
    return {"proposed": seen, **data}


def test_manager_approves_a_proposal_and_staff_see_it(supervisor, manager_client, nurse_client):
    version = _proposed_by(supervisor)

    response = manager_client.post(
        f"/scripts/manage/versions/{version.pk}/approve/", _as_read(manager_client, version)
    )

    version.refresh_from_db()
    assert response.status_code == 302
    assert version.state == "approved"
    page = manager_client.get(response["Location"]).content.decode()
    assert "Approved. Staff now see these words." in page
    assert "Thanks, but no." in nurse_client.get("/scripts/situations/gifts/").content.decode()


def test_manager_is_told_they_cannot_approve_their_own_words(manager, manager_client):
    version = _proposed_by(manager)

    page = manager_client.get(f"/scripts/manage/{version.script_id}/").content.decode()
    response = manager_client.post(f"/scripts/manage/versions/{version.pk}/approve/", follow=True)

    assert "You wrote this version, so another manager who approves scripts" in page
    assert "another approver must decide on it" in response.content.decode()
    version.refresh_from_db()
    assert version.state == "proposed"


def test_manager_sends_a_proposal_back_with_a_note(supervisor, manager_client, supervisor_client):
    version = _proposed_by(supervisor)

    manager_client.post(
        f"/scripts/manage/versions/{version.pk}/send-back/",
        _as_read(manager_client, version, note="Warmer, please."),
    )

    version.refresh_from_db()
    assert (version.state, version.decision_note) == ("rejected", "Warmer, please.")
    assert "Warmer, please." in supervisor_client.get("/scripts/manage/").content.decode()


@pytest.mark.parametrize("action", ["approve", "send-back"])
def test_words_changed_since_the_page_was_read_are_not_decided_on(
    supervisor, supervisor_client, manager_client, action
):
    """The author rewrote and proposed again while the approver read the first words:
    approving would offer staff words nobody approved."""
    version = _proposed_by(supervisor)
    read = _as_read(manager_client, version, note="Warmer, please.")
    supervisor_client.post(
        f"/scripts/manage/{version.script_id}/edit/", _form(text="Different words entirely.")
    )
    supervisor_client.post(f"/scripts/manage/versions/{version.pk}/propose/")

    state, page = _sent_from_page(manager_client, version, action, read)

    assert state == "proposed"
    assert "changed and proposed again after you opened the page" in page
    if action == "send-back":
        # The note typed is still in its box (found by a review helper: it was lost).
        assert "Warmer, please.</textarea>" in page


@pytest.mark.parametrize(
    ("action", "decided"), [("approve", "approved"), ("send-back", "rejected")]
)
def test_a_decision_sent_twice_is_made_once_without_an_error(
    supervisor, manager, manager_client, action, decided
):
    """A double click on Approve (or Send back) showed the success and then "This version
    is not awaiting approval any more." (found by review)."""
    from boundaries.models import AuditEvent

    version = _proposed_by(supervisor)
    read = _as_read(manager_client, version, note="Warmer, please.")
    manager_client.post(f"/scripts/manage/versions/{version.pk}/{action}/", read)
    events = AuditEvent.objects.count()

    state, page = _sent_from_page(manager_client, version, action, read)

    assert state == decided
    assert "not awaiting approval" not in page
    assert AuditEvent.objects.count() == events


def test_another_approvers_decision_meanwhile_is_still_said(
    supervisor, manager_client, second_manager
):
    """Only the same approver's own decision is taken as a double click: one made by
    someone else while the page was open is news."""
    version = _proposed_by(supervisor)
    read = _as_read(manager_client, version)
    services.approve_version(approver=second_manager, version=version)

    state, page = _sent_from_page(manager_client, version, "approve", read)

    assert state == "approved"
    assert "not awaiting approval any more" in page


def test_sending_back_without_a_note_shows_the_message_by_the_field(supervisor, manager_client):
    version = _proposed_by(supervisor)

    response = manager_client.post(
        f"/scripts/manage/versions/{version.pk}/send-back/", {"note": "  "}
    )

    assert response.status_code == 200
    assert "Say why you are sending it back." in response.content.decode()
    version.refresh_from_db()
    assert version.state == "proposed"


def test_manager_retires_a_script_after_confirming(manager_client, nurse_client):
    script = ScriptFactory(version__text="Words to retire.")

    confirm = manager_client.get(f"/scripts/manage/{script.pk}/retire/")
    response = manager_client.post(f"/scripts/manage/{script.pk}/retire/")

    assert "Retire this script" in confirm.content.decode()
    assert response.status_code == 302
    script.refresh_from_db()
    assert script.status == "retired"
    assert (
        "Words to retire."
        not in nurse_client.get("/scripts/situations/personal-contact/").content.decode()
    )


# --- The overview --------------------------------------------------------------------------


def test_manage_page_sorts_scripts_by_where_they_stand_and_shows_their_use(
    supervisor, manager_client, nurse
):
    proposed = _proposed_by(supervisor)
    used = ScriptFactory(version__title="Often used words")
    for response in ["accepted", "accepted", "asked_again", "escalated"]:
        IncidentFactory(
            reporter=nurse,
            script_version=used.current_version,
            words_used="x",
            person_response=response,
        )

    response = manager_client.get("/scripts/manage/")

    page = response.content.decode()
    assert "Awaiting approval (1)" in page and proposed.title in page
    assert "Approved (1)" in page
    (row,) = [(s, u) for s, u in response.context["approved"]]
    assert row[0] == used
    assert (row[1].used, row[1].accepted, row[1].asked_again, row[1].escalated) == (4, 2, 1, 1)


def test_a_supervisor_sees_the_use_in_their_units_and_a_manager_in_every_unit(
    supervisor_client, manager_client, nurse, other_unit_nurse, unit
):
    script = ScriptFactory(version__title="Words used on two wards")
    IncidentFactory(reporter=nurse, script_version=script.current_version, words_used="x")
    for _ in range(2):
        IncidentFactory(
            reporter=other_unit_nurse, script_version=script.current_version, words_used="x"
        )
    unit.is_active = False  # a closed ward's use still counts for the organisation
    unit.save()
    manager_view = dict(manager_client.get("/scripts/manage/").context["approved"])
    unit.is_active = True
    unit.save()

    supervisor_view = supervisor_client.get("/scripts/manage/")

    assert dict(supervisor_view.context["approved"])[script].used == 1
    assert "the units you supervise" in supervisor_view.content.decode()
    assert manager_view[script].used == 3


def test_the_overview_reads_the_running_counts_never_the_incidents(manager_client, nurse):
    """Counting every incident ever filed grows with the table, without end."""
    script = ScriptFactory()
    IncidentFactory(reporter=nurse, script_version=script.current_version, words_used="x")
    with CaptureQueriesContext(connection) as queries:
        response = manager_client.get("/scripts/manage/")

    assert dict(response.context["approved"])[script].used == 1
    incident_table = f'"{Incident._meta.db_table}"'
    assert [q["sql"] for q in queries if incident_table in q["sql"]] == []


def test_manage_page_makes_the_same_number_of_queries_for_1_or_20_scripts(
    supervisor, manager_client, nurse
):
    def count() -> int:
        manager_client.get("/scripts/manage/")
        with CaptureQueriesContext(connection) as queries:
            assert manager_client.get("/scripts/manage/").status_code == 200
        return len(queries)

    ScriptFactory()
    _proposed_by(supervisor)
    with_one = count()
    for _ in range(19):
        script = ScriptFactory()
        IncidentFactory(reporter=nurse, script_version=script.current_version, words_used="x")
    ScriptFactory(version__state="draft")

    assert count() == with_one


def test_script_management_page_makes_the_same_number_of_queries_for_1_or_20_versions(
    supervisor, manager, manager_client
):
    from scripts_library import services

    script = ScriptFactory()

    def count() -> int:
        manager_client.get(f"/scripts/manage/{script.pk}/")
        with CaptureQueriesContext(connection) as queries:
            manager_client.get(f"/scripts/manage/{script.pk}/")
        return len(queries)

    with_one = count()
    words = {
        "title": "t",
        "guidance": "",
        "category": script.category,
        "stage": "first",
        "request_types": list(RequestType.objects.all()[:3]),
    }
    for number in range(19):
        version = services.edit_script(
            editor=supervisor, script=script, text=f"Words {number}.", **words
        )
        services.propose_version(proposer=supervisor, version=version)
        services.reject_version(approver=manager, version=version, note="No.")

    assert count() == with_one


# --- Access --------------------------------------------------------------------------------

MANAGE_PAGES = ["/scripts/manage/", "/scripts/manage/new/"]


@pytest.mark.parametrize("path", MANAGE_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, db, path):
    assert client.get(path)["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", MANAGE_PAGES)
def test_reporters_and_supervisors_without_the_permission_are_refused(
    nurse_client, other_unit_supervisor_client, path
):
    assert nurse_client.get(path).status_code == 403
    assert other_unit_supervisor_client.get(path).status_code == 403


def test_supervisor_cannot_approve_send_back_or_retire(supervisor, supervisor_client):
    version = _proposed_by(supervisor)
    script = version.script

    assert (
        supervisor_client.post(f"/scripts/manage/versions/{version.pk}/approve/").status_code
        == 403
    )
    assert (
        supervisor_client.post(
            f"/scripts/manage/versions/{version.pk}/send-back/", {"note": "n"}
        ).status_code
        == 403
    )
    assert supervisor_client.get(f"/scripts/manage/{script.pk}/retire/").status_code == 403
    version.refresh_from_db()
    assert version.state == "proposed"


def test_decisions_answer_405_to_get(supervisor, manager_client):
    version = _proposed_by(supervisor)
    for action in ("propose", "approve", "send-back"):
        path = f"/scripts/manage/versions/{version.pk}/{action}/"
        assert manager_client.get(path).status_code == 405, action


def test_missing_scripts_and_versions_are_not_found(manager_client, db):
    assert manager_client.get("/scripts/manage/999/").status_code == 404
    assert manager_client.get("/scripts/manage/999/edit/").status_code == 404
    assert manager_client.post("/scripts/manage/versions/999/approve/").status_code == 404


def test_decision_pages_check_the_csrf_token(supervisor, manager):
    from django.test import Client

    version = _proposed_by(supervisor)
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)

    assert client.post(f"/scripts/manage/versions/{version.pk}/approve/").status_code == 403


def test_a_manager_who_only_approves_decides_without_the_drafting_buttons(supervisor, unit):
    """Granting "Can approve and retire scripts" alone is enough to decide: the library's
    pages open, without buttons for what only editors do (found by a review helper:
    403 on the pages, 404 on approving)."""
    from tests.scripts_library.conftest import _group

    deciding = UserFactory(username="approver", role=Role.MANAGER, units=[unit])
    deciding.groups.add(_group("Approvers only", "approve_script"))
    client = client_for(deciding)
    version = _proposed_by(supervisor)
    assert b"Manage the library" in client.get("/scripts/").content
    overview = client.get("/scripts/manage/").content.decode()
    assert "/scripts/manage/new/" not in overview
    page = client.get(f"/scripts/manage/{version.script_id}/").content.decode()
    assert "/edit/" not in page
    response = client.post(
        f"/scripts/manage/versions/{version.pk}/approve/", _as_read(client, version)
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.state == "approved"
    assert client.get("/scripts/manage/new/").status_code == 403
    assert client.post(f"/scripts/manage/{version.script_id}/retire/").status_code == 302


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "Thank you, that's kind,\x1b[31m but I can't accept gifts."),
        ("text", "Thank you\x08, but I can't accept gifts."),
        ("title", "Gift:\x07 a kind no"),
        ("guidance", "Hand it\x01 to your line manager."),
    ],
)
def test_control_characters_in_a_scripts_words_are_refused_next_to_the_field(
    supervisor_client, field, value
):
    # Found by a review helper: the incident form refuses them, and filing with the
    # script copied them into the incident's words used past that check.
    response = supervisor_client.post("/scripts/manage/new/", _form(**{field: value}))
    assert response.status_code == 200 and not Script.objects.exists()
    assert "control characters" in " ".join(response.context["form"].errors[field])


def test_guidance_that_fits_its_box_is_not_refused_for_its_new_lines(supervisor_client):
    guidance = ("Hand anything left behind to your line manager." + "\r\n") * 41
    assert len(guidance.replace("\r\n", "\n")) <= 2000 < len(guidance)
    response = supervisor_client.post("/scripts/manage/new/", _form(guidance=guidance))
    assert response.status_code == 302


def test_a_script_sent_back_is_still_named_by_its_title(supervisor, manager):
    # Found by a review helper: with no approved or pending words its page was named by
    # the script's internal key.
    from scripts_library.services import reject_version
    from tests.conftest import client_for

    version = _proposed_by(supervisor)
    reject_version(approver=manager, version=version, note="Say what to do instead.")
    page = client_for(supervisor).get(f"/scripts/manage/{version.script_id}/").content.decode()
    assert "<title>Gift: a kind no: manage" in page
    assert '<h1 class="h2">Gift: a kind no</h1>' in page
