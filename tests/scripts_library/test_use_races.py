"""Recounting the scripts' running counts while staff file (PostgreSQL's locks: SQLite
runs one writer at a time)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from scripts_library import services
from scripts_library.models import ScriptUse
from tests.factories import IncidentFactory, ScriptFactory, UnitFactory, UserFactory
from tests.incidents.test_purge_races import then_second

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one writer at a time; PostgreSQL's locks are what this checks.",
    ),
]


def test_a_recount_during_a_filing_that_counts_a_units_first_use_of_a_script():
    """Found by review: after incidents were loaded by other means (their counts not
    kept), a filing's upsert inserted the unit's first row for the script, which no row
    lock of the recount's could keep out; the recount, counting the loaded incident,
    inserted the same (script, unit) and failed on the unique constraint."""
    unit, script = UnitFactory(), ScriptFactory()
    nurse = UserFactory(units=[unit])
    used = {
        "reporter": nurse,
        "unit": unit,
        "script_version": script.current_version,
        "words_used": script.current_version.text,
        "person_response": "accepted",
    }
    IncidentFactory(**used)
    ScriptUse.objects.all().delete()  # loaded by other means: no running count
    paused, go_on = threading.Event(), threading.Event()

    def filing() -> None:
        with transaction.atomic():
            IncidentFactory(**used)  # counts the use, as filing does
            paused.set()
            assert go_on.wait(10)

    errors = then_second(filing, services.recount_uses, paused=paused, go_on=go_on)

    assert errors == []
    use = ScriptUse.objects.get(script=script, unit=unit)
    assert (use.used, use.accepted) == (2, 2)
