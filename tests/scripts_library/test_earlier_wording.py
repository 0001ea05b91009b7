"""Words chosen before a newer wording was approved are the words said: the incident
records them, whether the form was open at the time or kept in a draft."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from scripts_library import services
from scripts_library.models import VersionState
from tests.factories import ScriptFactory
from tests.incidents.conftest import incident_post

SAID = "Staff here don't share personal numbers."


@pytest.fixture
def replaced(supervisor, manager):
    """A script whose first wording a newer one replaced; returns (earlier, newer)."""
    script = ScriptFactory(version__text=SAID)
    earlier = script.current_version
    newer = services.edit_script(
        editor=supervisor,
        script=script,
        title=earlier.title,
        text="Please call the ward line: that is how to reach us.",
        guidance="",
        category=earlier.category,
        stage=earlier.stage,
        request_types=list(earlier.request_types.all()),
    )
    services.propose_version(proposer=supervisor, version=newer)
    services.approve_version(approver=manager, version=newer)
    earlier.refresh_from_db()
    assert earlier.state == VersionState.SUPERSEDED
    return earlier, newer


def test_the_wording_on_screen_is_filed_after_a_newer_one_was_approved(
    nurse_client, unit, replaced
):
    """Found by a review helper: the filing was refused with "Select a valid choice",
    and choosing again would have recorded words never said."""
    earlier, _ = replaced
    data = incident_post(unit, script_version=str(earlier.pk), own_words="")
    response = nurse_client.post("/incidents/new/", data)
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.script_version, incident.words_used) == (earlier, SAID)


def test_a_draft_reopens_on_the_earlier_wording_it_chose(nurse_client, unit, replaced):
    earlier, newer = replaced
    data = incident_post(unit, script_version=str(earlier.pk), own_words="")
    nurse_client.post(f"/incidents/drafts/{data['submission_token']}/autosave/", data)
    page = nurse_client.get(f"/incidents/drafts/{data['submission_token']}/").content.decode()
    assert (
        f'<option value="{earlier.pk}" selected>{earlier.title} (the earlier wording)</option>'
        in page
    )
    assert f'<option value="{newer.pk}">{newer.title}</option>' in page


def test_retired_words_are_not_recorded(nurse_client, unit, replaced, manager):
    earlier, newer = replaced
    services.retire_script(approver=manager, script=newer.script)
    data = incident_post(unit, script_version=str(earlier.pk), own_words="")
    response = nurse_client.post("/incidents/new/", data)
    assert response.status_code == 200
    assert "script_version" in response.context["form"].errors
    assert not Incident.objects.exists()


def test_words_approved_after_the_incident_are_not_recorded_as_said(nurse_client, unit, replaced):
    # Found by a review helper: a late report could only choose the newest wording, and
    # the server filed it as said, though it was approved after the incident.
    earlier, newer = replaced
    yesterday = timezone.localtime() - timedelta(days=1)
    when = {
        "occurred_date": yesterday.strftime("%Y-%m-%d"),
        "occurred_time": yesterday.strftime("%H:%M"),
    }
    response = nurse_client.post(
        "/incidents/new/",
        incident_post(unit, script_version=str(newer.pk), own_words="", **when),
    )
    assert response.status_code == 200 and not Incident.objects.exists()
    assert "after the incident" in response.context["form"].errors["script_version"][0]
    # The wording in use then is now offered beside the new one.
    page = response.content.decode()
    assert f'<option value="{earlier.pk}">{earlier.title} (the wording in use then)' in page
    response = nurse_client.post(
        "/incidents/new/",
        incident_post(unit, script_version=str(earlier.pk), own_words="", **when),
    )
    assert response.status_code == 302
    assert Incident.objects.get().words_used == SAID
