"""The organisation's starting library: load_scripts, and the rules its words follow."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from boundaries.models import AuditEvent
from incidents.models import RequestType
from scripts_library import services
from scripts_library.forms import sentence_count
from scripts_library.library import LIBRARY
from scripts_library.models import Category, Script, ScriptVersion, Stage
from tests.factories import ScriptFactory

# Words that would promise what staff cannot keep, or that belong to no script.
UNKEEPABLE = re.compile(r"\b(will call you|call you back|I promise|later today|tomorrow)\b", re.I)


def _load() -> str:
    out = StringIO()
    call_command("load_scripts", stdout=out)
    return out.getvalue()


def test_load_scripts_adds_the_library_approved_with_no_author(db):
    output = _load()

    assert f"Added {len(LIBRARY)} of {len(LIBRARY)} library scripts." in output
    assert "added gifts-first: Gift or money: decline with thanks" in output
    assert Script.objects.offered().count() == len(LIBRARY) >= 36
    versions = ScriptVersion.objects.all()
    assert {(v.state, v.author_id, v.number) for v in versions} == {("approved", None, 1)}
    assert all(v.decided_at for v in versions)
    assert AuditEvent.objects.filter(action="script.approved").count() == len(LIBRARY)


def test_load_scripts_twice_changes_nothing(db):
    _load()
    before = list(ScriptVersion.objects.values_list("pk", "text", "state").order_by("pk"))
    events = AuditEvent.objects.count()

    output = _load()

    assert f"Nothing to add: all {len(LIBRARY)} library scripts are present." in output
    assert list(ScriptVersion.objects.values_list("pk", "text", "state").order_by("pk")) == before
    assert AuditEvent.objects.count() == events


def test_load_scripts_leaves_the_organisations_edits_and_retirements_alone(db):
    ScriptFactory(key="gifts-first", request_types=["gifts"], version__text="Our own words.")
    retired = ScriptFactory(key="gifts-again", request_types=["gifts"])
    retired.status = "retired"
    retired.save()

    output = _load()

    assert f"Added {len(LIBRARY) - 2} of {len(LIBRARY)}" in output
    assert Script.objects.get(key="gifts-first").current_version.text == "Our own words."
    assert Script.objects.get(key="gifts-again").status == "retired"


def test_load_library_reports_a_missing_category_clearly(db):
    from dataclasses import replace

    broken = replace(LIBRARY[0], key="broken", category="no-such-category")
    with pytest.raises(services.LibraryDataError, match="no-such-category"):
        services.load_library(entries=[broken])


def test_every_situation_has_a_first_response_an_again_line_and_an_escalation(library):
    for request_type in RequestType.objects.all():
        ladder = services.ladder_for(request_type)
        assert [bool(step.scripts) for step in ladder] == [True, True, True], request_type.code


def test_the_library_uses_every_category(library):
    used = set(Script.objects.offered().values_list("category__code", flat=True))
    assert used == set(Category.objects.values_list("code", flat=True))


def test_the_library_names_only_situations_channels_and_categories_that_exist():
    keys = [entry.key for entry in LIBRARY]
    assert len(keys) == len(set(keys))
    assert {entry.stage for entry in LIBRARY} == set(Stage)


@pytest.mark.parametrize("entry", LIBRARY, ids=lambda entry: entry.key)
def test_each_script_is_short_enough_to_say_aloud(entry):
    assert len(entry.text) <= 300
    assert 1 <= sentence_count(entry.text) <= 2, entry.text
    assert len(entry.title) <= 120
    assert not UNKEEPABLE.search(entry.text), entry.text


@pytest.mark.parametrize("entry", LIBRARY, ids=lambda entry: entry.key)
def test_each_script_tells_staff_what_to_do(entry):
    assert 80 <= len(entry.guidance) <= 2000
    if entry.stage == Stage.ESCALATES:
        assert "supervisor" in entry.guidance
        assert re.search(r"security|police|emergency", entry.guidance), entry.key


def test_offered_number_guidance_says_not_to_keep_it_and_to_tell_the_line_manager():
    entry = next(e for e in LIBRARY if e.key == "offered-number-hand-back")
    assert "Do not keep the number" in entry.guidance
    assert "line manager" in entry.guidance
