"""Writing, approving and retiring scripts: who may do what, and what the versions keep."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from boundaries.audit import Action
from boundaries.models import AuditEvent, Role
from incidents.models import Channel, RequestType
from scripts_library import services
from scripts_library.models import Script, ScriptStatus, ScriptVersion, Stage, VersionState
from tests.factories import IncidentFactory, ScriptFactory, UserFactory, script_category
from tests.scripts_library.conftest import approvers, editors


def _words(**overrides) -> dict:
    words = {
        "title": "Gift: a kind no",
        "text": "Thank you, that's kind, but I can't accept gifts.",
        "guidance": "Hand anything left behind to your line manager.",
        "category": script_category("gifts-favours"),
        "stage": Stage.FIRST,
        "request_types": [RequestType.objects.get(code="gifts")],
        "channels": [],
    }
    return {**words, **overrides}


def _proposed(author, **overrides) -> ScriptVersion:
    script = services.draft_script(author=author, **_words(**overrides))
    return services.propose_version(proposer=author, version=script.versions.get())


def _events(script: Script) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_type="scripts_library.script", object_id=str(script.pk)
        ).values_list("action", flat=True)
    )


# --- Approval rules --------------------------------------------------------------------


def test_supervisor_drafts_a_script_that_nobody_is_offered_yet(supervisor):
    script = services.draft_script(author=supervisor, **_words())

    version = script.versions.get()
    assert (script.status, version.state, version.author) == ("draft", "draft", supervisor)
    assert script.key.startswith("gift-a-kind-no-")
    assert list(script.request_types.values_list("code", flat=True)) == ["gifts"]
    assert not Script.objects.offered().filter(pk=script.pk).exists()
    assert _events(script) == [Action.SCRIPT_DRAFTED]


def test_staff_without_the_draft_permission_cannot_draft(other_unit_supervisor, nurse):
    for person in (other_unit_supervisor, nurse):
        with pytest.raises(PermissionDenied):
            services.draft_script(author=person, **_words())
    assert not Script.objects.exists()


def test_reporter_with_the_permission_still_cannot_draft(nurse):
    nurse.groups.add(editors())
    with pytest.raises(PermissionDenied):
        services.draft_script(author=nurse, **_words())


def test_manager_approves_a_supervisors_proposal_and_it_is_offered(supervisor, manager):
    version = _proposed(supervisor)

    services.approve_version(approver=manager, version=version)

    version.refresh_from_db()
    script = version.script
    script.refresh_from_db()
    assert version.state == VersionState.APPROVED
    assert (version.decided_by, version.decided_at is not None) == (manager, True)
    assert (script.status, script.current_version) == (ScriptStatus.APPROVED, version)
    assert list(Script.objects.offered()) == [script]
    assert _events(script) == [
        Action.SCRIPT_DRAFTED,
        Action.SCRIPT_PROPOSED,
        Action.SCRIPT_APPROVED,
    ]


def test_author_cannot_approve_their_own_script(manager):
    version = _proposed(manager)

    with pytest.raises(ValidationError) as refused:
        services.approve_version(approver=manager, version=version)

    assert refused.value.code == "own_version"
    version.refresh_from_db()
    assert version.state == VersionState.PROPOSED
    assert not Script.objects.offered().exists()


def test_another_manager_approves_what_a_manager_wrote(manager, second_manager):
    version = _proposed(manager)
    services.approve_version(approver=second_manager, version=version)
    assert Script.objects.offered().count() == 1


def test_words_a_manager_wrote_stay_theirs_after_another_person_saves_them(
    manager, supervisor, second_manager
):
    """Another drafter re-saving them (changed or not) makes that drafter the author, but
    the manager still wrote them and may not approve them."""
    script = services.draft_script(author=manager, **_words())
    version = services.edit_script(editor=supervisor, script=script, **_words())
    services.propose_version(proposer=supervisor, version=version)
    version.refresh_from_db()
    assert version.author == supervisor
    with pytest.raises(ValidationError) as refused:
        services.approve_version(approver=manager, version=version)
    assert refused.value.code == "own_version"
    assert services.approve_version(approver=second_manager, version=version).state == (
        VersionState.APPROVED
    )


def test_the_migration_counts_each_versions_author_as_a_writer(manager, supervisor):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("scripts_library.migrations.0008_version_writers")
    script = services.draft_script(author=supervisor, **_words())
    version = script.versions.get()
    ScriptVersion.writers.through.objects.all().delete()
    migration.author_wrote(apps, None)
    assert list(version.writers.all()) == [supervisor]


def test_database_refuses_a_self_approval_that_skips_the_service(manager):
    version = _proposed(manager)
    version.state, version.decided_by, version.decided_at = "approved", manager, timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        version.save()


def test_supervisor_cannot_approve_even_with_the_permission(supervisor, manager):
    supervisor.groups.add(approvers())
    version = _proposed(manager)
    with pytest.raises(PermissionDenied):
        services.approve_version(approver=supervisor, version=version)


def test_manager_without_the_approve_permission_cannot_approve(supervisor, unit):
    unapproving = UserFactory(role=Role.MANAGER, units=[unit])
    version = _proposed(supervisor)
    with pytest.raises(PermissionDenied):
        services.approve_version(approver=unapproving, version=version)


def test_a_draft_must_be_proposed_before_it_is_approved(supervisor, manager):
    script = services.draft_script(author=supervisor, **_words())
    with pytest.raises(ValidationError) as refused:
        services.approve_version(approver=manager, version=script.versions.get())
    assert refused.value.code == "not_proposed"


@pytest.mark.parametrize("state", [VersionState.PROPOSED, VersionState.APPROVED])
def test_only_a_draft_is_proposed(supervisor, manager, state):
    """Proposed again, words awaiting a decision would look changed to the approver
    reading them; approved ones would be taken off the reporters' screens."""
    version = _proposed(supervisor)
    if state == VersionState.APPROVED:
        services.approve_version(approver=manager, version=version)
    version.refresh_from_db()
    before = (version.state, version.proposed_at)

    with pytest.raises(ValidationError) as refused:
        services.propose_version(proposer=supervisor, version=version)

    assert refused.value.code == "not_draft"
    version.refresh_from_db()
    assert (version.state, version.proposed_at) == before


def test_sending_back_needs_a_note_and_records_it(supervisor, manager):
    version = _proposed(supervisor)
    with pytest.raises(ValidationError):
        services.reject_version(approver=manager, version=version, note="   ")

    services.reject_version(approver=manager, version=version, note="Too long to say aloud.")

    version.refresh_from_db()
    assert (version.state, version.decision_note) == ("rejected", "Too long to say aloud.")
    assert version.decided_by == manager
    assert Action.SCRIPT_REJECTED in _events(version.script)
    assert not Script.objects.offered().exists()


def test_reporters_are_offered_only_approved_scripts(db):
    approved = ScriptFactory()
    ScriptFactory(version__state="draft")
    retired = ScriptFactory()
    retired.status = ScriptStatus.RETIRED
    retired.save()

    assert list(Script.objects.offered()) == [approved]
    assert list(ScriptVersion.objects.offered()) == [approved.current_version]


# --- Versions ----------------------------------------------------------------------------


def test_editing_an_approved_script_keeps_the_approved_words_offered(supervisor, manager):
    script = ScriptFactory(version__text="The first words.")

    draft = services.edit_script(
        editor=supervisor, script=script, **_words(text="Better words.", stage=Stage.AGAIN)
    )

    script.refresh_from_db()
    assert draft.number == 2 and draft.state == VersionState.DRAFT
    assert script.current_version.text == "The first words."
    assert script.stage == Stage.FIRST, "placement changes wait for approval too"
    assert list(Script.objects.offered()) == [script]


def test_approving_a_new_version_supersedes_the_old_one_and_moves_the_script(supervisor, manager):
    script = ScriptFactory(version__text="The first words.")
    first = script.current_version
    draft = services.edit_script(
        editor=supervisor, script=script, **_words(text="Better words.", stage=Stage.AGAIN)
    )
    services.propose_version(proposer=supervisor, version=draft)

    services.approve_version(approver=manager, version=draft)

    script.refresh_from_db()
    first.refresh_from_db()
    assert first.state == VersionState.SUPERSEDED
    assert script.current_version == draft
    assert script.current_version.text == "Better words."
    assert script.stage == Stage.AGAIN
    assert list(script.request_types.values_list("code", flat=True)) == ["gifts"]


def test_an_incident_keeps_its_words_after_the_script_changes(supervisor, manager, nurse):
    script = ScriptFactory(version__text="I can't give out my number.")
    v1 = script.current_version
    incident = IncidentFactory(reporter=nurse, script_version=v1, words_used=v1.text)

    v2 = services.edit_script(editor=supervisor, script=script, **_words(text="New words."))
    services.propose_version(proposer=supervisor, version=v2)
    services.approve_version(approver=manager, version=v2)

    incident.refresh_from_db()
    assert incident.script_version == v1
    assert incident.script_version.text == "I can't give out my number."
    assert incident.words_used == "I can't give out my number."


def test_editing_a_pending_version_revises_it_and_returns_it_to_draft(supervisor, manager):
    version = _proposed(supervisor)

    revised = services.edit_script(
        editor=manager, script=version.script, **_words(text="Shorter words.")
    )

    assert revised.pk == version.pk
    assert (revised.state, revised.proposed_at, revised.author) == ("draft", None, manager)
    assert version.script.versions.count() == 1


def test_a_script_sent_back_gets_a_new_version_when_edited(supervisor, manager):
    version = _proposed(supervisor)
    services.reject_version(approver=manager, version=version, note="Warmer, please.")

    again = services.edit_script(editor=supervisor, script=version.script, **_words())

    assert again.number == 2
    assert list(version.script.versions.values_list("state", flat=True)) == [
        "draft",
        "rejected",
    ]


def test_database_allows_one_pending_version_per_script(supervisor):
    script = services.draft_script(author=supervisor, **_words())
    with pytest.raises(IntegrityError), transaction.atomic():
        ScriptVersion.objects.create(
            script=script, number=2, title="t", text="x", category=script.category
        )


# --- Retiring ------------------------------------------------------------------------------


def test_retired_script_is_no_longer_offered_but_keeps_its_history(manager, supervisor, nurse):
    script = ScriptFactory()
    incident = IncidentFactory(
        reporter=nurse, script_version=script.current_version, words_used="x"
    )
    pending = services.edit_script(editor=supervisor, script=script, **_words())

    services.retire_script(approver=manager, script=script)

    script.refresh_from_db()
    pending.refresh_from_db()
    assert script.status == ScriptStatus.RETIRED
    assert script.current_version.state == VersionState.RETIRED
    assert pending.state == VersionState.REJECTED
    assert pending.decision_note == services.WITHDRAWN_ON_RETIREMENT
    assert not Script.objects.offered().exists()
    assert ScriptVersion.objects.filter(incidents=incident).get() == script.current_version
    assert _events(script)[-1] == Action.SCRIPT_RETIRED


def test_only_an_approving_manager_retires(supervisor):
    script = ScriptFactory()
    with pytest.raises(PermissionDenied):
        services.retire_script(approver=supervisor, script=script)


def test_a_retired_script_comes_back_when_a_new_version_is_approved(supervisor, manager):
    script = ScriptFactory()
    services.retire_script(approver=manager, script=script)
    version = services.edit_script(editor=supervisor, script=script, **_words())
    services.propose_version(proposer=supervisor, version=version)

    services.approve_version(approver=manager, version=version)

    assert list(Script.objects.offered()) == [script]


# --- Ladders -------------------------------------------------------------------------------


def test_ladder_lists_every_stage_in_order_with_offered_scripts_only(db):
    again = ScriptFactory(stage="again", request_types=["gifts"])
    first = ScriptFactory(stage="first", request_types=["gifts"])
    ScriptFactory(stage="escalates", request_types=["gifts"], version__state="draft")
    ScriptFactory(stage="first", request_types=["romantic"])

    ladder = services.ladder_for("gifts")

    assert [(stage, scripts) for stage, scripts in ladder] == [
        (Stage.FIRST, [first]),
        (Stage.AGAIN, [again]),
        (Stage.ESCALATES, []),
    ]


def test_ladder_for_a_channel_keeps_scripts_for_any_channel(db):
    anywhere = ScriptFactory()
    on_the_phone = ScriptFactory(channels=["unit-phone"])
    ScriptFactory(channels=["social-media"])

    ladder = services.ladder_for(
        RequestType.objects.get(code="personal-contact"),
        channel=Channel.objects.get(code="unit-phone"),
    )

    assert ladder[0].scripts == [anywhere, on_the_phone]
    # Without a channel every script of the situation is offered (compared in pk order:
    # the default ordering is by key, which factories number as text).
    offered = Script.objects.offered().for_request_type("personal-contact").order_by("pk")
    assert list(offered) == [
        anywhere,
        on_the_phone,
        *Script.objects.filter(channels__code="social-media"),
    ]


def test_words_sent_back_stay_their_writers_when_another_drafter_takes_them_up(
    manager, supervisor, second_manager
):
    """Found by a review helper: the manager could approve their own words, sent back by
    a colleague and proposed again unchanged by a drafter."""
    script = services.draft_script(author=manager, **_words())
    version = services.propose_version(proposer=manager, version=script.versions.get())
    services.reject_version(approver=second_manager, version=version, note="Too curt.")
    again = services.edit_script(editor=supervisor, script=script, **_words())
    services.propose_version(proposer=supervisor, version=again)
    with pytest.raises(ValidationError) as refused:
        services.approve_version(approver=manager, version=again)
    assert refused.value.code == "own_version"
    assert set(again.writers.all()) == {manager, supervisor}
