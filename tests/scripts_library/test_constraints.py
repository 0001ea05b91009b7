"""Words still pending carry no decision, and a draft is not a proposal: held by the
database as well as by the services (migration 0010), and every step the services take
is still allowed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from scripts_library import services
from scripts_library.models import ScriptVersion, VersionState
from tests.scripts_library.test_services import _words as words


def refused(queryset, **changes) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**changes)


@pytest.mark.parametrize("state", [VersionState.DRAFT, VersionState.PROPOSED])
def test_the_database_refuses_a_decision_on_pending_words(supervisor, manager, state):
    script = services.draft_script(author=supervisor, **words())
    version = script.versions.get()
    if state == VersionState.PROPOSED:
        services.propose_version(proposer=supervisor, version=version)
    rows = ScriptVersion.objects.filter(pk=version.pk)
    refused(rows, decided_by=manager)
    refused(rows, decided_at=timezone.now())
    refused(rows, decision_note="Too long.")


def test_the_database_refuses_a_draft_with_a_proposal_time(supervisor):
    script = services.draft_script(author=supervisor, **words())
    refused(ScriptVersion.objects.filter(script=script), proposed_at=timezone.now())


def test_every_step_of_the_library_keeps_the_rules(supervisor, manager):
    """Drafted, proposed, revised (back to a draft), proposed, sent back, taken up again
    as a new version, approved; then a pending revision withdrawn by retirement."""
    script = services.draft_script(author=supervisor, **words())
    first = services.propose_version(proposer=supervisor, version=script.versions.get())
    revised = services.edit_script(editor=supervisor, script=script, **words(text="No, thanks."))
    assert (revised.pk, revised.state, revised.proposed_at) == (first.pk, "draft", None)
    services.propose_version(proposer=supervisor, version=revised)
    sent_back = services.reject_version(approver=manager, version=revised, note="Kinder, please.")
    assert (sent_back.state, sent_back.decided_by) == (VersionState.REJECTED, manager)

    second = services.edit_script(editor=supervisor, script=script, **words())
    assert second.pk != sent_back.pk
    assert (second.decided_by, second.decided_at, second.decision_note) == (None, None, "")
    services.propose_version(proposer=supervisor, version=second)
    approved = services.approve_version(approver=manager, version=second)
    assert approved.state == VersionState.APPROVED

    pending = services.edit_script(editor=supervisor, script=script, **words(text="Later."))
    services.retire_script(approver=manager, script=script)
    pending.refresh_from_db()
    assert (pending.state, pending.decided_by) == (VersionState.REJECTED, manager)
