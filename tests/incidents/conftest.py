"""Helpers for filing incidents through the form, as a browser would post it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from scripts_library.models import Category, Script, ScriptStatus, ScriptVersion, VersionState


def incident_post(home_unit, **overrides) -> dict:
    """A complete, valid submission of the incident form."""
    when = timezone.localtime() - timedelta(hours=1)
    data = {
        "submission_token": str(uuid.uuid4()),
        "occurred_date": when.strftime("%Y-%m-%d"),
        "occurred_time": when.strftime("%H:%M"),
        "unit": str(home_unit.pk),
        "location": "Bay 3",
        "other_party": "patient",
        "patient_reference": "943 476 5919",
        "request_type": "personal-contact",
        "channel": "in-person",
        "description": "Asked for my mobile number twice while I did his observations.",
        "script_version": "",
        "own_words": "I'm sorry, I don't give out my personal number.",
        "person_response": "accepted",
        "actions": [],
        "supervisor_told": "",
        "supervisor_told_at": "",
        "witnesses-TOTAL_FORMS": "1",
        "witnesses-INITIAL_FORMS": "0",
        "witnesses-MIN_NUM_FORMS": "0",
        "witnesses-MAX_NUM_FORMS": "6",
        "witnesses-0-name": "",
        "witnesses-0-role": "",
        "witnesses-0-contact": "",
        "action": "submit",
    }
    data.update(overrides)
    return data


def with_witnesses(data: dict, witnesses: list[tuple[str, str, str]]) -> dict:
    data = {k: v for k, v in data.items() if not k.startswith("witnesses-0-")}
    data["witnesses-TOTAL_FORMS"] = str(len(witnesses))
    for index, (name, role, contact) in enumerate(witnesses):
        data[f"witnesses-{index}-name"] = name
        data[f"witnesses-{index}-role"] = role
        data[f"witnesses-{index}-contact"] = contact
    return data


@pytest.fixture
def approved_script(db):
    """One approved script in the library, as the reporter is offered it."""
    script = Script.objects.create(
        key="test-policy-number",
        category=Category.objects.get(code="policy"),
        status=ScriptStatus.DRAFT,
    )
    version = ScriptVersion.objects.create(
        script=script,
        category=script.category,
        number=1,
        title="Our policy on personal numbers",
        text="Staff here don't share personal numbers, but the ward is always happy to help.",
        state=VersionState.APPROVED,
        # Approved long before the incidents filed with it.
        decided_at=timezone.now() - timedelta(days=365),
    )
    script.current_version = version
    script.status = ScriptStatus.APPROVED
    script.save()
    return version
