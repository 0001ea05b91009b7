"""The audit trail: what is recorded, the hash chain, verify_audit, and append-only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pgtrigger
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string
from django.test import Client

from boundaries import audit
from boundaries.models import AuditEvent, Role
from tests.factories import TEST_PASSWORD, ScriptFactory, UserFactory

ONLY_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=(
        "the triggers that refuse UPDATE, DELETE and TRUNCATE are PostgreSQL's; on SQLite "
        "the hash chain (verify_audit) is what catches tampering"
    ),
)


def tamper(sql: str, params: list) -> None:
    """Change the table behind the application's back, as someone with database access
    would. On PostgreSQL that first means getting past the append-only trigger."""
    with pgtrigger.ignore("boundaries.AuditEvent:audit_append_only"), connection.cursor() as c:
        c.execute(sql, params)


def three_events(user, unit) -> list[AuditEvent]:
    return [
        audit.record(action=audit.Action.INCIDENT_CREATED, actor=user, target=unit, unit=unit),
        audit.record(action=audit.Action.INCIDENT_VIEWED, actor=user, target=unit, unit=unit),
        audit.record(action=audit.Action.INCIDENT_REVIEWED, actor=user, target=unit, unit=unit),
    ]


def test_events_are_chained_in_insertion_order(supervisor, unit):
    first, second, third = three_events(supervisor, unit)
    assert first.previous_hash == audit.GENESIS_HASH
    assert second.previous_hash == first.hash
    assert third.previous_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3
    stored = AuditEvent.objects.get(pk=third.pk)
    assert audit.event_hash(stored) == stored.hash


def test_an_event_records_who_what_where_and_how_it_ended(supervisor, unit):
    event = audit.record(
        action=audit.Action.INCIDENT_VIEWED, actor=supervisor, target=unit, unit=unit
    )
    event.refresh_from_db()
    assert event.actor == supervisor
    assert event.actor_role == Role.SUPERVISOR
    assert event.object_type == "boundaries.unit"
    assert event.object_id == str(unit.pk)
    assert event.unit == unit
    assert event.outcome == audit.Outcome.SUCCESS
    assert event.occurred_at.utcoffset().total_seconds() == 0


def test_events_have_no_place_for_free_text():
    # A new field here must be a code or an id, never something a person typed.
    assert {field.name for field in AuditEvent._meta.get_fields()} == {
        "id",
        "occurred_at",
        "action",
        "actor",
        "actor_role",
        "object_type",
        "object_id",
        "unit",
        "source_address",
        "outcome",
        "previous_hash",
        "hash",
    }


def test_verify_audit_says_every_event_verifies(supervisor, unit, capsys):
    events = three_events(supervisor, unit)
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "All 3 audit events verify." in out
    assert events[-1].hash in out


def test_verify_audit_names_the_row_that_was_edited(supervisor, unit):
    _, second, _ = three_events(supervisor, unit)
    tamper("UPDATE boundaries_auditevent SET outcome = %s WHERE id = %s", ["denied", second.pk])
    with pytest.raises(
        CommandError, match=f"Audit event {second.pk} does not match: its contents"
    ):
        call_command("verify_audit")
    result = audit.verify_chain()
    assert result.checked == 1
    assert result.mismatch.event_id == second.pk


def test_verify_audit_names_the_row_after_one_that_was_removed(supervisor, unit):
    _, second, third = three_events(supervisor, unit)
    tamper("DELETE FROM boundaries_auditevent WHERE id = %s", [second.pk])
    with pytest.raises(CommandError, match=f"Audit event {third.pk} does not match: it does not"):
        call_command("verify_audit")


def test_verify_audit_notices_events_removed_from_the_end(supervisor, unit):
    *_, last = three_events(supervisor, unit)
    call_command("verify_audit", expect_last=last.hash)
    tamper("DELETE FROM boundaries_auditevent WHERE id = %s", [last.pk])
    with pytest.raises(CommandError, match="events were removed from the end"):
        call_command("verify_audit", expect_last=last.hash)


def test_verify_audit_reads_the_hash_as_printed_and_refuses_a_mistyped_one(supervisor, unit):
    """Capitals, or a hash cut short when copied, are not signs of removal (found by a
    review helper: both were reported as events removed from the end)."""
    *_, last = three_events(supervisor, unit)
    call_command("verify_audit", expect_last=f" {last.hash.upper()} ")
    with pytest.raises(CommandError, match="64 letters and digits") as refused:
        call_command("verify_audit", expect_last=last.hash[:20])
    assert "removed" not in str(refused.value)


def test_a_rolled_back_change_leaves_no_event_and_no_gap(supervisor, unit):
    first = audit.record(action=audit.Action.INCIDENT_CREATED, actor=supervisor)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(action=audit.Action.INCIDENT_CHANGED, actor=supervisor)
        raise RuntimeError("the change failed")
    after = audit.record(action=audit.Action.INCIDENT_VIEWED, actor=supervisor)
    assert after.previous_hash == first.hash
    assert audit.verify_chain().ok


@ONLY_POSTGRESQL
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE boundaries_auditevent SET outcome = 'denied'",
        "DELETE FROM boundaries_auditevent",
        "TRUNCATE boundaries_auditevent",
        "TRUNCATE boundaries_auditevent CASCADE",
    ],
)
def test_postgresql_refuses_to_rewrite_the_trail(supervisor, unit, statement):
    three_events(supervisor, unit)
    with (
        pytest.raises(DatabaseError, match="auditevent"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.count() == 3


@ONLY_POSTGRESQL
def test_postgresql_refuses_orm_updates_and_deletes(supervisor, unit):
    event, *_ = three_events(supervisor, unit)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="denied")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert audit.verify_chain().ok


@ONLY_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(unit):
    from django.db import connections

    actor = UserFactory(role=Role.SUPERVISOR, units=[unit])
    errors = []

    def write_events():
        try:
            for _ in range(10):
                with transaction.atomic():
                    audit.record(action=audit.Action.INCIDENT_VIEWED, actor=actor, unit=unit)
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write_events) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = audit.verify_chain()
    assert result.ok
    assert result.checked == 40


# --- What is recorded -------------------------------------------------------------------


def actions() -> list[str]:
    return list(AuditEvent.objects.values_list("action", flat=True))


def test_signing_in_and_out_is_recorded(client, nurse):
    response = client.post(
        "/accounts/login/",
        {"username": "nurse", "password": TEST_PASSWORD},
        REMOTE_ADDR="10.0.0.7",
    )
    assert response.status_code == 302
    client.post("/accounts/logout/", REMOTE_ADDR="10.0.0.7")
    signed_in, signed_out = AuditEvent.objects.all()
    assert (signed_in.action, signed_in.actor, signed_in.actor_role) == (
        audit.Action.SIGN_IN_SUCCEEDED,
        nurse,
        Role.REPORTER,
    )
    assert signed_in.source_address == "10.0.0.7"
    assert (signed_out.action, signed_out.actor) == (audit.Action.SIGNED_OUT, nurse)


def test_a_failed_sign_in_names_the_account_but_never_what_was_typed(client, nurse):
    client.post("/accounts/login/", {"username": "nurse", "password": "wrong-guess"})
    client.post("/accounts/login/", {"username": "nobody\nat all", "password": "wrong-guess"})
    known, unknown = AuditEvent.objects.all()
    assert (known.action, known.outcome, known.actor) == (
        audit.Action.SIGN_IN_FAILED,
        audit.Outcome.FAILURE,
        nurse,
    )
    assert (unknown.action, unknown.actor) == (audit.Action.SIGN_IN_FAILED, None)
    everything = " ".join(str(value) for row in AuditEvent.objects.values_list() for value in row)
    assert "nobody" not in everything
    assert "wrong-guess" not in everything


def test_a_lockout_is_recorded(client, nurse, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "nurse", "password": "wrong"})
    locked = AuditEvent.objects.filter(action=audit.Action.LOCKED_OUT)
    assert locked.count() == 1
    assert locked.get().actor == nurse
    assert locked.get().outcome == audit.Outcome.DENIED


def test_a_refused_page_is_recorded_with_the_route_name(administrator_client, administrator):
    # Administrators manage people in the admin site; they file no incidents.
    response = administrator_client.get("/incidents/")
    assert response.status_code == 403
    event = AuditEvent.objects.get(action=audit.Action.PERMISSION_REFUSED)
    assert (event.actor, event.actor_role, event.outcome) == (
        administrator,
        Role.ADMINISTRATOR,
        audit.Outcome.DENIED,
    )
    assert (event.object_type, event.object_id) == ("route", "incidents:list")


def test_an_expired_session_is_recorded(nurse_client, nurse, settings):
    from tests.boundaries.test_sessions import age_session

    nurse_client.get("/support/")
    age_session(
        nurse_client, started_ago=3600, seen_ago=settings.SESSION_IDLE_TIMEOUT.total_seconds() + 5
    )
    nurse_client.get("/support/")
    assert AuditEvent.objects.get().action == audit.Action.SESSION_EXPIRED


# --- Reading the trail ------------------------------------------------------------------


def test_for_object_gives_one_records_trail_oldest_first(supervisor, unit, other_unit):
    mine = three_events(supervisor, unit)
    audit.record(action=audit.Action.INCIDENT_VIEWED, actor=supervisor, target=other_unit)
    assert list(AuditEvent.objects.for_object(unit)) == mine


def test_the_trail_include_lists_when_who_role_action_and_outcome(
    supervisor, unit, django_assert_num_queries
):
    three_events(supervisor, unit)
    audit.record(
        action=audit.Action.INCIDENT_VIEWED,
        actor=supervisor,
        target=unit,
        outcome=audit.Outcome.DENIED,
    )
    with django_assert_num_queries(1):
        html = render_to_string(
            "audit/_trail.html", {"events": AuditEvent.objects.for_object(unit)}
        )
    assert html.count("<tr>") == 5
    assert str(supervisor) in html
    for label in ("Supervisor", "Incident created", "Incident reviewed", "Denied", "Success"):
        assert label in html


def test_the_trail_include_says_when_there_is_nothing(unit):
    html = render_to_string("audit/_trail.html", {"events": AuditEvent.objects.for_object(unit)})
    assert "Nothing has been recorded" in html


# --- The admin site ---------------------------------------------------------------------


def test_administrators_search_the_whole_trail(administrator_client, supervisor, unit):
    first, *_ = three_events(supervisor, unit)
    audit.record(action=audit.Action.SIGN_IN_SUCCEEDED, actor=supervisor)
    response = administrator_client.get(f"/admin/boundaries/auditevent/?q={unit.pk}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    response = administrator_client.get(
        "/admin/boundaries/auditevent/?action=incident.created&outcome=success"
        f"&actor_role=supervisor&unit__id__exact={unit.pk}"
    )
    assert [event.pk for event in response.context["cl"].result_list] == [first.pk]
    assert b"Incident created" in response.content
    response = administrator_client.get(f"/admin/boundaries/auditevent/{first.pk}/change/")
    assert response.status_code == 200
    assert first.hash.encode() in response.content


def test_an_event_names_itself_by_the_local_clock(supervisor, unit):
    """The admin site heads an event's page with it (and its breadcrumb): the time the
    page shows below, on the local clock and with its zone, not UTC's an hour apart in
    summer (and a day apart before 01:00 BST)."""
    event = audit.record(action=audit.Action.INCIDENT_VIEWED, actor=supervisor, target=unit)
    event.occurred_at = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    assert str(event).startswith("2026-07-02 00:30:00 BST incident.viewed ")
    event.occurred_at = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert str(event).startswith("2026-10-25 01:30:00 GMT ")


def test_nobody_can_add_change_or_delete_events_in_the_admin(administrator_client, nurse):
    event = audit.record(action=audit.Action.SIGN_IN_SUCCEEDED, actor=nurse)
    base = "/admin/boundaries/auditevent"
    assert administrator_client.get(f"{base}/add/").status_code == 403
    assert administrator_client.post(f"{base}/{event.pk}/delete/").status_code == 403
    response = administrator_client.post(f"{base}/{event.pk}/change/", {"outcome": "denied"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.outcome == audit.Outcome.SUCCESS
    assert audit.verify_chain().ok


def test_people_other_than_administrators_cannot_open_the_trail_in_the_admin(manager_client):
    response = manager_client.get("/admin/boundaries/auditevent/", follow=True)
    assert response.status_code == 403


def test_administrators_without_staff_status_never_see_it_either(db):
    person = UserFactory(role=Role.ADMINISTRATOR, is_staff=False)
    client = Client()
    client.force_login(person)
    # The second step comes first; and even then the admin site is staff-only.
    response = client.get("/admin/boundaries/auditevent/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/boundaries/auditevent/?occurred_at__year=9999&occurred_at__month=12",
        "/admin/boundaries/auditevent/?occurred_at__year=9999",
        "/admin/boundaries/auditevent/?occurred_at__year=99999999999999999999999",
        "/admin/scripts_library/scriptversion/?created_at__year=9999",
        # And every other list, by any lookup (found by a later review helper).
        "/admin/boundaries/user/?date_joined__year=-1",
        "/admin/boundaries/user/?last_login__year=0",
        "/admin/scripts_library/script/?created_at__year=99999999999999999999",
        "/admin/scripts_library/scriptversion/?decided_at__year=-5",
        "/admin/boundaries/auditevent/?occurred_at__year__gt=99999",
        "/admin/boundaries/auditevent/?occurred_at__iso_year=-1",
        "/admin/axes/accessattempt/?attempt_time__year=-1",
    ],
)
def test_an_impossible_date_in_the_admin_lists_gets_the_list_back(administrator_client, path):
    """Found by a review helper: a server error."""
    ScriptFactory()
    administrator_client.raise_request_exception = False
    response = administrator_client.get(path, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith("?e=1")


@pytest.mark.parametrize("bad", ["abc", "99999999999999999999", "-99999999999999999999"])
def test_an_admin_action_on_ids_that_are_not_ids_changes_nothing(administrator_client, nurse, bad):
    # Found by review helpers: a server error (and, for an id no column holds, on
    # PostgreSQL the action ran on the rest).
    administrator_client.raise_request_exception = False
    response = administrator_client.post(
        "/admin/boundaries/user/",
        {"action": "reset_two_factor", "_selected_action": [bad, str(nurse.pk)], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert "could not be found. Nothing was changed" in response.content.decode()
    assert not AuditEvent.objects.filter(action=audit.Action.TWO_FACTOR_RESET).exists()
