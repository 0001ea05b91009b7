"""Every action the audit trail must record leaves its event when done through the pages,
in the same transaction, and no event carries what anyone typed."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group, Permission

from boundaries import audit
from boundaries.models import AuditEvent
from incidents.models import Alert, Incident, Patient, RequestType
from tests.conftest import client_for
from tests.factories import nhs_number, script_category
from tests.incidents.conftest import incident_post

DESCRIPTION = "AUDITSCAN he asked for my number three times"


def actions_since(first_id: int) -> list[str]:
    return list(AuditEvent.objects.filter(id__gt=first_id).values_list("action", flat=True))


def last_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture
def editor_supervisor(supervisor):
    group, _ = Group.objects.get_or_create(name="Script editors")
    group.permissions.add(Permission.objects.get(codename="draft_script"))
    supervisor.groups.add(group)
    return supervisor


def test_each_recorded_action_leaves_its_event(
    nurse_client, editor_supervisor, manager_client, nurse, unit
):
    supervisor_client = client_for(editor_supervisor)
    reference = nhs_number(201)
    steps = []

    def step(expected: list[str], do, status: set[int] = frozenset({200, 302})) -> None:
        before = last_id()
        response = do()
        assert response.status_code in status, (expected, response.status_code)
        steps.append((expected, actions_since(before)))

    # Three incidents about one patient: created, and a repeat-patient alert raised.
    for number in range(3):
        expected = ["incident.created"] + (["alert.raised"] if number == 2 else [])
        step(
            expected,
            lambda: nurse_client.post(
                "/incidents/new/",
                incident_post(unit, patient_reference=reference, description=DESCRIPTION),
            ),
        )
    incident = Incident.objects.order_by("id").first()
    alert = Alert.objects.get()
    patient = Patient.objects.get()

    step(
        ["addendum.added"],
        lambda: nurse_client.post(
            f"/incidents/{incident.pk}/addenda/", {"token": str(uuid.uuid4()), "text": "Again."}
        ),
    )
    incident.refresh_from_db()  # the addendum moved its version on
    # Read by its reporter: not recorded. Read by anyone else: recorded.
    step([], lambda: nurse_client.get(f"/incidents/{incident.pk}/"))
    step(["incident.viewed"], lambda: supervisor_client.get(f"/incidents/{incident.pk}/"))
    step(
        ["incident.status_changed", "incident.reviewed"],
        lambda: supervisor_client.post(
            f"/incidents/{incident.pk}/review/",
            {
                "version": incident.version,
                "status": "under_review",
                "actions": ["debrief_offered"],
                "feedback": "Thank you.",
                "internal_note": "",
            },
        ),
    )
    step(
        ["timeline.viewed"],
        lambda: supervisor_client.get(f"/alerts/patients/{patient.public_id}/"),
    )
    step(
        ["alert.acknowledged"],
        lambda: supervisor_client.post(
            f"/alerts/{alert.public_id}/acknowledge/",
            {"action": "Watching for now", "note": "Watching."},
        ),
    )
    step(
        ["alert.resolved"],
        lambda: supervisor_client.post(
            f"/alerts/{alert.public_id}/resolve/", {"resolution": "Care transferred."}
        ),
    )
    step(
        ["alerts.thresholds_changed"],
        lambda: manager_client.post(
            "/alerts/thresholds/",
            {"repeat_count": 4, "repeat_days": 90, "staff_count": 2, "staff_days": 30},
        ),
    )
    step(["csv.exported"], lambda: supervisor_client.get("/reports/incidents.csv?unit=WARD-A"))
    step(
        ["script.drafted"],
        lambda: supervisor_client.post(
            "/scripts/manage/new/",
            {
                "title": "Gift: a kind no",
                "text": "Thank you, but I can't accept gifts.",
                "guidance": "",
                "category": script_category("gifts-favours").pk,
                "stage": "first",
                "request_types": [RequestType.objects.get(code="gifts").pk],
            },
        ),
    )
    step(["permission.refused"], lambda: nurse_client.get("/review/"), status={403})

    for expected, recorded in steps:
        assert recorded == expected

    for event in AuditEvent.objects.all():
        written = audit.canonical_form(event).decode()
        assert reference not in written
        assert "AUDITSCAN" not in written
    assert audit.verify_chain().ok
