"""The demo's invented incidents: every unit, many types and severities, patients who
come back, and alerts and reviews at every stage."""

from django.db.models import Count

from boundaries.demo import seed_organisation
from incidents.demo import seed_incidents
from incidents.models import Alert, Incident, Status
from scripts_library.services import load_library


def test_demo_incidents_look_like_a_real_ward(db):
    seed_organisation(password="demo-password-123")
    load_library()
    created = seed_incidents(months=2)
    assert created == Incident.objects.count() > 40
    assert Incident.objects.values("unit").distinct().count() >= 4
    assert Incident.objects.values("request_type").distinct().count() >= 6
    assert Incident.objects.values("severity").distinct().count() == 3
    assert set(Incident.objects.values_list("status", flat=True)) == set(Status.values)
    repeat = Incident.objects.values("patient").annotate(n=Count("*")).filter(n__gte=3)
    assert repeat.exists()
    assert Incident.objects.filter(script_version__isnull=False).exists()
    assert Alert.objects.exists()
    assert all(
        ref.startswith("999")
        for ref in Incident.objects.values_list("patient__reference", flat=True)
    )


def test_demo_incidents_are_created_once(db):
    seed_organisation(password="demo-password-123")
    seed_incidents(months=1)
    count = Incident.objects.count()
    assert seed_incidents(months=1) == 0
    assert Incident.objects.count() == count
