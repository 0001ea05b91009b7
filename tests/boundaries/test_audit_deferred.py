"""Deferred audit events: appended together, in the order recorded, when the block ends,
so that a filing holds the audit chain's lock only for its last statements."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from boundaries import audit
from boundaries.models import AuditEvent


def test_events_recorded_in_the_block_are_appended_at_its_end_in_order(nurse, unit):
    with transaction.atomic(), audit.deferred():
        audit.record(action=audit.Action.INCIDENT_CREATED, actor=nurse, unit=unit)
        audit.record(action=audit.Action.ALERT_RAISED, actor=nurse, unit=unit)
        assert not AuditEvent.objects.exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["incident.created", "alert.raised"]
    assert audit.verify_chain().ok


def test_the_deferred_events_chain_onto_the_events_before_them(nurse):
    audit.record(action=audit.Action.SIGN_IN_SUCCEEDED, actor=nurse)
    with transaction.atomic(), audit.deferred():
        audit.record(action=audit.Action.INCIDENT_CREATED, actor=nurse)
        audit.record(action=audit.Action.ALERT_RAISED, actor=nurse)
    audit.record(action=audit.Action.SIGNED_OUT, actor=nurse)
    result = audit.verify_chain()
    assert result.ok and result.checked == 4


def test_a_block_that_fails_appends_nothing(nurse):
    with pytest.raises(RuntimeError), transaction.atomic(), audit.deferred():
        audit.record(action=audit.Action.INCIDENT_CREATED, actor=nurse)
        raise RuntimeError
    assert not AuditEvent.objects.exists()


def test_nested_blocks_append_once_with_the_outermost(nurse):
    with transaction.atomic(), audit.deferred():
        audit.record(action=audit.Action.INCIDENT_CREATED, actor=nurse)
        with audit.deferred():
            audit.record(action=audit.Action.ALERT_RAISED, actor=nurse)
        assert not AuditEvent.objects.exists()
    assert AuditEvent.objects.count() == 2


def test_any_number_of_events_costs_one_insert(nurse):
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), audit.deferred():
        for _ in range(5):
            audit.record(action=audit.Action.ALERT_RAISED, actor=nurse)
    inserts = [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert AuditEvent.objects.count() == 5
