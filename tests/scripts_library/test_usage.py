"""How often each script was used, and how the person responded: counted over any set
of incidents in one aggregate query (the reports), and kept as running counts per script
and unit (the library's overview)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident
from incidents.retention import purge_expired
from scripts_library import services
from scripts_library.models import ScriptUse
from scripts_library.services import usage_by_script
from tests.factories import IncidentFactory, ScriptFactory, channel, request_type


def test_usage_counts_uses_and_responses_per_script_in_two_queries(
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

    with django_assert_num_queries(2):
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


# --- The running counts behind the library's overview -----------------------------------


def _file(reporter, script, response="accepted", *, unit=None):
    """File through the service, as the incident form does."""
    incident, _ = incident_services.log_incident(
        reporter=reporter,
        token=uuid.uuid4(),
        unit=unit or reporter.units.first(),
        occurred_at=timezone.now() - timedelta(hours=1),
        location="Bay 1",
        other_party="patient",
        patient_reference="",
        request_type=request_type(),
        channel=channel(),
        description="Asked for my number again.",
        script_version=script.current_version if script else None,
        own_words="" if script else "No, thank you.",
        person_response=response,
        notify=False,
    )
    return incident


def _counts() -> dict[tuple[int, int], tuple[int, int, int, int]]:
    return {
        (use.script_id, use.unit_id): (use.used, use.accepted, use.asked_again, use.escalated)
        for use in ScriptUse.objects.all()
    }


def test_filing_adds_to_the_running_count_of_its_script_and_unit(nurse, other_unit_nurse):
    script, other = ScriptFactory(), ScriptFactory()
    unit, other_unit = nurse.units.first(), other_unit_nurse.units.first()
    for response in ["accepted", "asked_again", "escalated", "escalated"]:
        _file(nurse, script, response)
    _file(other_unit_nurse, script)
    _file(nurse, other, "asked_again")
    _file(nurse, None)  # own words: no script to count

    assert _counts() == {
        (script.pk, unit.pk): (4, 1, 1, 2),
        (script.pk, other_unit.pk): (1, 1, 0, 0),
        (other.pk, unit.pk): (1, 0, 1, 0),
    }


def test_a_filing_that_fails_adds_nothing(nurse, monkeypatch):
    script = ScriptFactory()
    _file(nurse, script)

    def broken(*args, **kwargs):
        raise RuntimeError("mail system down")

    monkeypatch.setattr("boundaries.audit.record", broken)
    with pytest.raises(RuntimeError):
        _file(nurse, script)
    assert _counts() == {(script.pk, nurse.units.first().pk): (1, 1, 0, 0)}


def test_the_purge_takes_expired_incidents_off_the_counts(nurse, settings):
    script = ScriptFactory()
    expired = timezone.now() - timedelta(days=365 * (settings.BOUNDARIES["RETENTION_YEARS"] + 1))
    for response in ["accepted", "escalated", "escalated"]:
        IncidentFactory(
            reporter=nurse,
            script_version=script.current_version,
            person_response=response,
            occurred_at=expired - timedelta(hours=1),
            submitted_at=expired,
        )
    kept = _file(nurse, script, "escalated")

    purge_expired()

    assert list(Incident.objects.all()) == [kept]
    assert _counts() == {(script.pk, nurse.units.first().pk): (1, 0, 0, 1)}


def test_the_counts_match_a_recount_from_the_incidents(nurse, other_unit_nurse):
    scripts = ScriptFactory.create_batch(3)
    for number in range(12):
        reporter = nurse if number % 3 else other_unit_nurse
        response = ["accepted", "asked_again", "escalated"][number % 3]
        _file(reporter, scripts[number % len(scripts)], response)
    kept = _counts()

    assert services.recount_uses() == len(kept)
    assert _counts() == kept


def test_the_counts_refuse_responses_that_do_not_add_up(nurse):
    script = ScriptFactory()
    _file(nurse, script)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScriptUse.objects.update(accepted=5)


def test_the_overview_reads_the_counts_of_the_units_asked_for(nurse, other_unit_nurse):
    script = ScriptFactory()
    for response in ["accepted", "escalated"]:
        _file(nurse, script, response)
    _file(other_unit_nurse, script, "asked_again")
    unit = nurse.units.first()

    everywhere = services.usage_in_units(None)[script.pk]
    here = services.usage_in_units([unit.pk])[script.pk]

    assert (everywhere.used, everywhere.accepted, everywhere.asked_again) == (3, 1, 1)
    assert (here.used, here.accepted, here.asked_again, here.escalated) == (2, 1, 0, 1)
    assert here.title == script.current_version.title
    assert services.usage_in_units([]) == {}


def test_the_benchmarks_seed_counts_the_uses_as_filing_does(nurse, other_unit_nurse):
    """The benchmark loads its incidents by SQL, not by filing: its step for the
    running counts must give what filing would have kept."""
    from django.db import connection

    from tests.bench.seed import steps

    scripts = ScriptFactory.create_batch(2)
    for number in range(7):
        reporter = nurse if number % 2 else other_unit_nurse
        response = ["accepted", "asked_again", "escalated"][number % 3]
        _file(reporter, scripts[number // 2 % 2], response)
    _file(nurse, None)
    filed = _counts()
    ScriptUse.objects.all().delete()

    (sql,) = [body for name, body in steps() if name == "script uses"]
    with connection.cursor() as cursor:
        cursor.execute(sql)

    assert len(filed) == 4
    assert _counts() == filed


def test_the_migration_counts_the_incidents_filed_before_it(nurse, other_unit_nurse):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("scripts_library.migrations.0006_script_use")
    script = ScriptFactory()
    for reporter, response in [(nurse, "accepted"), (other_unit_nurse, "escalated")]:
        _file(reporter, script, response)
    _file(nurse, script, "asked_again")
    filed = _counts()
    ScriptUse.objects.all().delete()

    migration.count_existing_uses(apps, None)

    assert _counts() == filed


def test_the_recount_command_repairs_the_counts(nurse):
    from io import StringIO

    from django.core.management import call_command

    script = ScriptFactory()
    _file(nurse, script, "escalated")
    filed = _counts()
    ScriptUse.objects.update(used=7, escalated=7)
    out = StringIO()

    call_command("recount_script_uses", stdout=out)

    assert _counts() == filed
    assert "1 script and unit pairs" in out.getvalue()
