"""Units, people, roles and the admin site."""

import re

import pytest
from django.db import IntegrityError

from boundaries.access import has_role
from boundaries.models import Membership, Role, Unit, User
from tests.factories import UnitFactory, UserFactory


def test_a_person_has_only_one_main_unit(nurse, other_unit):
    with pytest.raises(IntegrityError):
        Membership.objects.create(user=nurse, unit=other_unit, is_primary=True)


def test_unit_codes_are_checked_by_the_database(db):
    with pytest.raises(IntegrityError):
        Unit.objects.create(name="Lower case", code="ward-x")


def test_only_administrators_can_be_staff(db):
    with pytest.raises(IntegrityError):
        UserFactory(role=Role.MANAGER, is_staff=True)


def test_createsuperuser_makes_an_administrator(db):
    user = User.objects.create_superuser("root-admin", "a@example.invalid", "pw-long-enough-1")
    assert user.role == Role.ADMINISTRATOR


def test_units_supervised_by_each_role(nurse, supervisor, manager, unit, other_unit):
    assert list(Unit.objects.supervised_by(nurse)) == []
    assert list(Unit.objects.supervised_by(supervisor)) == [unit]
    assert set(Unit.objects.supervised_by(manager)) == {unit, other_unit}


def test_a_deactivated_person_holds_no_role(deactivated):
    assert not has_role(deactivated, Role.REPORTER)


def test_admin_lists_people_with_filters_and_search(administrator_client, nurse, supervisor):
    response = administrator_client.get("/admin/boundaries/user/?role__exact=supervisor")
    assert response.status_code == 200
    assert b"supervisor" in response.content
    assert b">nurse<" not in response.content
    response = administrator_client.get("/admin/boundaries/user/?q=nurse")
    assert b"nurse" in response.content


def test_admin_explains_why_a_non_administrator_cannot_be_staff(administrator_client, nurse):
    response = administrator_client.get(f"/admin/boundaries/user/{nurse.pk}/change/")
    assert response.status_code == 200
    data = {
        "username": "nurse",
        "first_name": "Ari",
        "last_name": "Tremayne",
        "email": "nurse@example.invalid",
        "job_title": "nurse",
        "role": "reporter",
        "is_active": "on",
        "is_staff": "on",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    response = administrator_client.post(f"/admin/boundaries/user/{nurse.pk}/change/", data)
    assert response.status_code == 200
    assert b"Only administrators can have staff status." in response.content
    nurse.refresh_from_db()
    assert not nurse.is_staff


def test_admin_manages_units(administrator_client):
    UnitFactory(code="WARD-Z", name="Ward Z")
    response = administrator_client.get("/admin/boundaries/unit/?q=WARD-Z")
    assert response.status_code == 200
    assert b"Ward Z" in response.content


@pytest.mark.parametrize("persona", ["nurse", "supervisor", "manager"])
def test_only_administrators_reach_the_admin_site(request, persona):
    # Signed in (with the second step where due), but not an administrator.
    client = request.getfixturevalue(f"{persona}_client")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get(response["Location"]).status_code == 403


def test_anonymous_admin_visitors_sign_in_through_the_two_step_sign_in(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=/admin/"


def test_seed_demo_creates_every_role_and_is_idempotent(db, capsys):
    from django.core.management import call_command

    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    first = capsys.readouterr().out
    counts = (User.objects.count(), Unit.objects.count(), Membership.objects.count())
    for username, role in [
        ("nurse", Role.REPORTER),
        ("nurse2", Role.REPORTER),
        ("supervisor", Role.SUPERVISOR),
        ("supervisor2", Role.SUPERVISOR),
        ("manager", Role.MANAGER),
        ("admin", Role.ADMINISTRATOR),
    ]:
        assert User.objects.get(username=username).role == role
        assert username in first
    assert "demo-password-123" in first
    nurse_units = set(User.objects.get(username="nurse").units.values_list("code", flat=True))
    nurse2_units = set(User.objects.get(username="nurse2").units.values_list("code", flat=True))
    assert nurse_units.isdisjoint(nurse2_units)

    call_command("seed_demo", password="demo-password-123", months=1, without_debug=True)
    assert (User.objects.count(), Unit.objects.count(), Membership.objects.count()) == counts
    assert User.objects.get(username="nurse").check_password("demo-password-123")


@pytest.mark.parametrize("months", [0, -3, 200000])
def test_seed_demo_refuses_a_number_of_months_it_cannot_make(db, months):
    """Once a traceback (200000) or a library approved in the future (negative)."""
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--months must be from 1 to 60"):
        call_command("seed_demo", password="demo-password-123", months=months, without_debug=True)
    assert not User.objects.exists()


def _person_form(person, rows, *, initial=0) -> dict:
    """The admin's change form for ``person`` with membership ``rows`` of
    (membership id or None, unit, main unit?)."""
    data = {
        "username": person.username,
        "first_name": "Ari",
        "last_name": "Trelawny",
        "email": "ari@example.invalid",
        "job_title": "nurse",
        "role": "reporter",
        "is_active": "on",
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(initial),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, (membership_id, unit, primary) in enumerate(rows):
        data[f"memberships-{index}-unit"] = str(unit.pk)
        data[f"memberships-{index}-user"] = str(person.pk)
        if membership_id:
            data[f"memberships-{index}-id"] = str(membership_id)
        if primary:
            data[f"memberships-{index}-is_primary"] = "on"
    return data


def test_two_main_units_in_the_admin_get_a_message_and_save_nothing(administrator_client, db):
    """The database refuses them (a server error, once): the form says so first."""
    person = UserFactory(username="newperson")
    ward, clinic = UnitFactory(code="WARD-X"), UnitFactory(code="CLINIC-Y")

    response = administrator_client.post(
        f"/admin/boundaries/user/{person.pk}/change/",
        _person_form(person, [(None, ward, True), (None, clinic, True)]),
    )

    assert response.status_code == 200
    assert "Tick one main unit only" in response.content.decode()
    assert not Membership.objects.filter(user=person).exists()


@pytest.mark.parametrize("to_first", [True, False])
def test_the_admin_moves_a_persons_main_unit_in_one_save(administrator_client, db, to_first):
    """Whichever row comes first: the new main unit must never meet the old one."""
    old, new = UnitFactory(code="WARD-X"), UnitFactory(code="WARD-Y")
    person = UserFactory(username="mover", units=[new, old] if to_first else [old, new])
    person.memberships.update(is_primary=False)
    person.memberships.filter(unit=old).update(is_primary=True)
    rows = [(m.pk, m.unit, m.unit == new) for m in person.memberships.order_by("pk")]

    response = administrator_client.post(
        f"/admin/boundaries/user/{person.pk}/change/",
        _person_form(person, rows, initial=len(rows)),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert person.memberships.get(is_primary=True).unit == new


def test_swapping_the_units_of_two_rows_gets_a_message_not_a_server_error(
    administrator_client, db
):
    """Each row meets the other's unit in the database: the form says so (the
    database's own refusal, once, was a server error)."""
    ward, clinic = UnitFactory(code="WARD-X"), UnitFactory(code="CLINIC-Y")
    person = UserFactory(username="swapper", units=[ward, clinic])
    first, second = person.memberships.order_by("pk")
    rows = [(first.pk, clinic, first.is_primary), (second.pk, ward, second.is_primary)]

    response = administrator_client.post(
        f"/admin/boundaries/user/{person.pk}/change/",
        _person_form(person, rows, initial=2),
    )

    assert response.status_code == 200
    assert "This person is already in that unit." in response.content.decode()


def _as_drawn(client, person, rows=(), **changes) -> dict:
    """The admin's change form for ``person`` as a page drawn now sends it: with the mark
    of what the page showed, and ``changes``."""
    page = client.get(f"/admin/boundaries/user/{person.pk}/change/").content.decode()
    seen = re.findall(r'name="seen" value="([^"]+)"', page)
    data = {
        **_person_form(person, rows),
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        **changes,
    }
    return {**data, **({"seen": seen[0]} if seen else {})}


def test_an_admin_page_drawn_before_a_colleague_deactivated_someone_saves_nothing(
    administrator_client, nurse
):
    """Found by review: a colleague's change page, open since before the person was
    deactivated, sent back "active" with a new last name and let them in again."""
    stale = _as_drawn(administrator_client, nurse, last_name="Penhallow")
    nurse.is_active = False
    nurse.save()  # a colleague, in the admin meanwhile

    response = administrator_client.post(f"/admin/boundaries/user/{nurse.pk}/change/", stale)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Someone else changed this person after you opened this page" in page
    assert "Active (saved now: no)" in page
    assert 'value="Penhallow"' in page  # what was typed, kept
    nurse.refresh_from_db()
    assert not nurse.is_active
    assert nurse.last_name != "Penhallow"
    # Sent again from the page as drawn now, it is saved as it stands.
    again = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    response = administrator_client.post(
        f"/admin/boundaries/user/{nurse.pk}/change/", {**stale, "seen": again}
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert (nurse.is_active, nurse.last_name) == (True, "Penhallow")


def test_an_admin_change_sent_twice_is_saved_not_refused(administrator_client, nurse):
    data = _as_drawn(administrator_client, nurse, role="supervisor")
    first = administrator_client.post(f"/admin/boundaries/user/{nurse.pk}/change/", data)
    second = administrator_client.post(f"/admin/boundaries/user/{nurse.pk}/change/", data)

    assert (first.status_code, second.status_code) == (302, 302)
    nurse.refresh_from_db()
    assert nurse.role == "supervisor"
