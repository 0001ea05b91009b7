"""How often each script was used, and how the person responded: one aggregate query."""

from __future__ import annotations

from incidents.models import Incident
from scripts_library.services import usage_by_script
from tests.factories import IncidentFactory, ScriptFactory


def test_usage_counts_uses_and_responses_per_script_in_one_query(
    nurse, other_unit_nurse, django_assert_num_queries
):
    often, once, unused = ScriptFactory(), ScriptFactory(), ScriptFactory()
    for response in ["accepted", "accepted", "asked_again", "escalated", "escalated"]:
        IncidentFactory(
            reporter=nurse,
            script_version=often.current_version,
            words_used="x",
            person_response=response,
        )
    IncidentFactory(reporter=other_unit_nurse, script_version=once.current_version, words_used="x")
    IncidentFactory(reporter=nurse, script_version=None, words_used="My own words.")

    with django_assert_num_queries(1):
        usage = usage_by_script(Incident.objects.all())

    assert list(usage) == [often.pk, once.pk]
    assert unused.pk not in usage
    counts = usage[often.pk]
    assert (counts.used, counts.accepted, counts.asked_again, counts.escalated) == (5, 2, 1, 2)
    assert counts.title == often.current_version.title
    assert usage[once.pk].used == 1


def test_usage_counts_every_version_of_a_script_together(nurse, supervisor, manager):
    from scripts_library import services

    script = ScriptFactory()
    first = script.current_version
    IncidentFactory(reporter=nurse, script_version=first, words_used=first.text)
    second = services.edit_script(
        editor=supervisor,
        script=script,
        title="New title",
        text="New words.",
        guidance="",
        category=script.category,
        stage="first",
        request_types=list(script.request_types.all()),
    )
    services.propose_version(proposer=supervisor, version=second)
    services.approve_version(approver=manager, version=second)
    IncidentFactory(reporter=nurse, script_version=second, words_used=second.text)

    usage = usage_by_script(Incident.objects.all())

    assert usage[script.pk].used == 2
    assert usage[script.pk].title == "New title"


def test_usage_follows_the_incidents_it_is_given(nurse, other_unit_nurse):
    script = ScriptFactory()
    IncidentFactory(reporter=nurse, script_version=script.current_version, words_used="x")
    IncidentFactory(
        reporter=other_unit_nurse, script_version=script.current_version, words_used="x"
    )

    usage = usage_by_script(Incident.objects.reported_by(nurse))

    assert usage[script.pk].used == 1
