"""Admin change pages drawn before a colleague's change save nothing and name what
differs; the same change sent twice is saved (boundaries/stale_pages.py). Found by
review: only the person page was checked, and a stale unit page reactivated a closed
unit."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin

from boundaries.admin import UserAdmin
from boundaries.models import User
from boundaries.stale_pages import StalePageAdmin, StalePageForm, StalePageFormSet
from tests.boundaries.test_people import _as_drawn, _person_form
from tests.factories import UnitFactory, UserFactory, channel, request_type, script_category

PROJECT_APPS = {"boundaries", "incidents", "scripts_library"}


def _seen(page: str, name: str = "seen") -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def _drawn(client, path: str, obj, fields: list[str], **changes) -> dict:
    """The change form at ``path`` as a page drawn now sends it: the saved ``fields``,
    the mark of what the page showed, and ``changes``."""
    page = client.get(path).content.decode()
    data = {}
    for name in fields:
        value = getattr(obj, name)
        if value is True:
            data[name] = "on"
        elif value is not False:
            data[name] = str(value)
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None} | {"seen": _seen(page)}


def _unit():
    return UnitFactory(code="WARD-S", name="Ward S")


PAGES = {
    # model: (the saved row, the fields its page sends, a colleague's change, what the
    # page then says is saved now)
    "unit": (
        _unit,
        ["name", "code", "kind", "is_active"],
        {"kind": "clinic"},
        "Kind (saved now: Clinic)",
    ),
    "request type": (
        lambda: request_type("gifts"),
        ["name", "description", "base_severity", "position", "is_active"],
        {"base_severity": 3},
        "Base severity (saved now: High)",
    ),
    "channel": (
        channel,
        ["name", "position", "is_active"],
        {"is_active": False},
        "Is active (saved now: no)",
    ),
    "category": (
        script_category,
        ["name", "summary", "position"],
        {"position": 7},
        "Position (saved now: 7)",
    ),
}


def _path(obj) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"


@pytest.mark.parametrize("what", PAGES)
def test_an_admin_page_drawn_before_a_colleagues_change_saves_nothing_and_names_it(
    administrator_client, what
):
    make, fields, colleague, saved_now = PAGES[what]
    obj = make()
    stale = _drawn(administrator_client, _path(obj), obj, fields, name="Renamed on my page")
    type(obj).objects.filter(pk=obj.pk).update(**colleague)  # a colleague, meanwhile

    response = administrator_client.post(_path(obj), stale)

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Someone else changed this {obj._meta.verbose_name} after you opened" in page
    assert saved_now in page
    assert 'value="Renamed on my page"' in page  # what was typed, kept
    obj.refresh_from_db()
    assert obj.name != "Renamed on my page"
    assert {name: getattr(obj, name) for name in colleague} == colleague
    # Sent again from the page as drawn now, it is saved as it stands.
    response = administrator_client.post(_path(obj), {**stale, "seen": _seen(page)})
    assert response.status_code == 302
    obj.refresh_from_db()
    assert obj.name == "Renamed on my page"


@pytest.mark.parametrize("what", PAGES)
def test_an_admin_change_sent_twice_is_saved_not_refused(administrator_client, what):
    make, fields, _, _ = PAGES[what]
    obj = make()
    data = _drawn(administrator_client, _path(obj), obj, fields, name="Renamed twice")

    first = administrator_client.post(_path(obj), data)
    second = administrator_client.post(_path(obj), data)

    assert (first.status_code, second.status_code) == (302, 302)
    obj.refresh_from_db()
    assert obj.name == "Renamed twice"


UNIT_FIELDS = ["name", "code", "kind", "is_active"]


def test_a_unit_page_drawn_before_the_unit_closed_does_not_reopen_it(administrator_client):
    """Found by review: the page sent "active" with a new name, and the closed unit took
    incidents again. The message is at the top of the form, above the fields."""
    unit = _unit()
    stale = _drawn(administrator_client, _path(unit), unit, UNIT_FIELDS, name="Ward S East")
    unit.is_active = False
    unit.save()  # a colleague closes it meanwhile

    response = administrator_client.post(_path(unit), stale)

    page = response.content.decode()
    assert "Is active (saved now: no)" in page
    assert page.index("Someone else changed this unit") < page.index('name="name"')
    unit.refresh_from_db()
    assert (unit.is_active, unit.name) == (False, "Ward S")


def test_fixing_a_mistake_does_not_count_as_having_seen_a_colleagues_change(
    administrator_client,
):
    """A page sent back with a mistake keeps the mark of the page as first drawn: a
    colleague's change made while the mistake is put right is still caught."""
    unit = _unit()
    drawn = _drawn(administrator_client, _path(unit), unit, UNIT_FIELDS, name="")
    mistake = administrator_client.post(_path(unit), drawn)
    assert "This field is required." in mistake.content.decode()
    assert _seen(mistake.content.decode()) == drawn["seen"]
    unit.is_active = False
    unit.save()  # a colleague closes it meanwhile

    response = administrator_client.post(
        _path(unit), {**drawn, "name": "Ward S East", "seen": _seen(mistake.content.decode())}
    )

    assert response.status_code == 200
    assert "Is active (saved now: no)" in response.content.decode()
    unit.refresh_from_db()
    assert (unit.is_active, unit.name) == (False, "Ward S")


def test_a_page_sent_with_a_mistake_after_a_colleagues_change_names_both(administrator_client):
    unit = _unit()
    stale = _drawn(administrator_client, _path(unit), unit, UNIT_FIELDS, code="lower case")
    unit.is_active = False
    unit.save()

    page = administrator_client.post(_path(unit), stale).content.decode()

    assert "Is active (saved now: no)" in page
    assert "Use capital letters, digits and hyphens" in page
    unit.refresh_from_db()
    assert (unit.is_active, unit.code) == (False, "WARD-S")


def test_a_colleagues_change_to_one_field_leaves_the_pages_other_changes_unnamed(
    administrator_client, nurse
):
    """Only what the colleague changed, and the page shows otherwise, is named; the
    page's own change elsewhere is not (the person page once named both)."""
    stale = _as_drawn(administrator_client, nurse, last_name="Penhallow")
    User.objects.filter(pk=nurse.pk).update(is_active=False)

    page = administrator_client.post(f"/admin/boundaries/user/{nurse.pk}/change/", stale)

    text = page.content.decode()
    assert "Active (saved now: no)" in text
    assert "Last name (saved now" not in text


def test_the_same_change_made_by_a_colleague_too_is_saved_with_the_pages_others(
    administrator_client, nurse
):
    stale = _as_drawn(administrator_client, nurse, role="supervisor", last_name="Penhallow")
    User.objects.filter(pk=nurse.pk).update(role="supervisor")  # a colleague, the same

    response = administrator_client.post(f"/admin/boundaries/user/{nurse.pk}/change/", stale)

    assert response.status_code == 302
    nurse.refresh_from_db()
    assert (nurse.role, nurse.last_name) == ("supervisor", "Penhallow")


def _with_units(client, person) -> dict:
    """The person's page as drawn now, with their units as the page shows them."""
    rows = [(m.pk, m.unit, m.is_primary) for m in person.memberships.order_by("pk")]
    page = client.get(f"/admin/boundaries/user/{person.pk}/change/").content.decode()
    data = {
        **_person_form(person, rows, initial=len(rows)),
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
    }
    # The blank row the page offers for another unit, sent empty.
    data["memberships-TOTAL_FORMS"] = str(len(rows) + 1)
    return data | {
        "seen": _seen(page),
        "memberships-seen": _seen(page, "memberships-seen"),
    }


def test_a_person_page_drawn_before_a_colleague_moved_their_main_unit_saves_nothing(
    administrator_client,
):
    """The units rows of a page drawn before a colleague's change put the main unit back
    where it was (access to that unit's incidents follows it)."""
    ward, clinic = UnitFactory(code="WARD-X"), UnitFactory(code="CLINIC-Y")
    person = UserFactory(username="mover", units=[ward, clinic])
    person.memberships.update(is_primary=False)
    person.memberships.filter(unit=ward).update(is_primary=True)
    stale = _with_units(administrator_client, person)
    person.memberships.update(is_primary=False)
    person.memberships.filter(unit=clinic).update(is_primary=True)  # a colleague

    response = administrator_client.post(f"/admin/boundaries/user/{person.pk}/change/", stale)

    assert response.status_code == 200
    page = response.content.decode()
    assert "This person&#x27;s units changed after you opened this page" in page
    assert "(CLINIC-Y), Main unit: yes" in page  # the rows saved now
    assert person.memberships.get(is_primary=True).unit == clinic
    # Sent again from the page as drawn now, it is saved as it stands.
    response = administrator_client.post(
        f"/admin/boundaries/user/{person.pk}/change/",
        {**stale, "seen": _seen(page), "memberships-seen": _seen(page, "memberships-seen")},
    )
    assert response.status_code == 302
    assert person.memberships.get(is_primary=True).unit == ward


def test_a_person_page_drawn_before_a_colleague_changed_a_unit_row_saves_nothing(
    administrator_client,
):
    ward, clinic = UnitFactory(code="WARD-X"), UnitFactory(code="CLINIC-Y")
    person = UserFactory(username="moved", units=[ward])
    stale = _with_units(administrator_client, person)
    person.memberships.update(unit=clinic)  # a colleague moves them to the clinic

    response = administrator_client.post(
        f"/admin/boundaries/user/{person.pk}/change/", {**stale, "last_name": "Penhallow"}
    )

    assert response.status_code == 200
    assert "CLINIC-Y" in response.content.decode()
    person.refresh_from_db()
    assert list(person.units.values_list("code", flat=True)) == ["CLINIC-Y"]
    assert person.last_name != "Penhallow"


def test_a_person_page_drawn_before_a_colleague_removed_a_unit_row_can_be_saved_again(
    administrator_client,
):
    """Found by review: refused once, the page kept the removed row's id, which is no
    longer a valid choice, and every save after that said "Please correct the error
    below." with no error shown. The page drawn again leaves the removed row out."""
    ward, clinic = UnitFactory(code="WARD-X"), UnitFactory(code="CLINIC-Y")
    person = UserFactory(username="two-units", units=[ward, clinic])
    stale = _with_units(administrator_client, person)
    person.memberships.filter(unit=clinic).delete()  # a colleague
    path = f"/admin/boundaries/user/{person.pk}/change/"

    refused = administrator_client.post(path, {**stale, "last_name": "Penhallow"})

    assert refused.status_code == 200
    assert "units changed after you opened this page" in refused.content.decode()
    formset = refused.context["inline_admin_formsets"][0].formset
    assert [form.instance.unit for form in formset.forms if form.instance.pk] == [ward]
    # The page as drawn again, sent again: saved.
    again = {key: value for key, value in stale.items() if not key.startswith("memberships-")}
    again |= {
        key: formset.data.getlist(key) for key in formset.data if key.startswith("memberships-")
    }
    again |= {"last_name": "Penhallow", "seen": _seen(refused.content.decode())}
    saved = administrator_client.post(path, again)
    assert saved.status_code == 302, saved.context["errors"] if saved.context else ""
    person.refresh_from_db()
    assert person.last_name == "Penhallow"
    assert list(person.units.values_list("code", flat=True)) == ["WARD-X"]


def test_what_the_page_does_not_change_is_saved_as_it_is_now(
    administrator_client, nurse, monkeypatch
):
    """The person is read before their row is locked: a sign-out a colleague made in
    between (a two-factor reset ends their sessions) must not be undone by the save."""
    read = UserAdmin.get_object

    def read_then_colleague_ends_sessions(self, request, object_id, from_field=None):
        person = read(self, request, object_id, from_field)
        if request.method == "POST":
            User.objects.filter(pk=person.pk).update(session_stamp="ended-by-colleague")
        return person

    data = _as_drawn(administrator_client, nurse, last_name="Penhallow")
    monkeypatch.setattr(UserAdmin, "get_object", read_then_colleague_ends_sessions)

    response = administrator_client.post(f"/admin/boundaries/user/{nurse.pk}/change/", data)

    assert response.status_code == 302
    nurse.refresh_from_db()
    assert (nurse.last_name, nurse.session_stamp) == ("Penhallow", "ended-by-colleague")


def test_a_form_with_dates_and_many_to_many_fields_is_marked_and_named(db, nurse):
    """Values JSON has no type for (a date and time, a list of groups) once made the
    mark fail: each field is encoded the same way every time."""
    from django.contrib.auth.models import Group

    class JoinedForm(StalePageForm):
        class Meta:
            model = User
            fields = ["first_name", "date_joined", "groups"]

    drawn = JoinedForm(instance=nurse)
    seen = drawn["seen"].value()
    User.objects.filter(pk=nurse.pk).update(date_joined="2020-01-02T03:04:05Z")
    nurse.groups.add(Group.objects.create(name="Rota editors"))
    data = {
        "first_name": "Ari",
        "date_joined": nurse.date_joined.strftime("%Y-%m-%d %H:%M:%S"),
        "seen": seen,
    }

    form = JoinedForm(data, instance=User.objects.get(pk=nurse.pk))

    assert not form.is_valid()
    message = form.non_field_errors()[0]
    assert "Date joined (saved now: " in message
    assert "Groups (saved now: Rota editors)" in message
    assert "First name" not in message
    unchanged = JoinedForm(instance=User.objects.get(pk=nurse.pk))["seen"].value()
    assert unchanged == JoinedForm(instance=User.objects.get(pk=nurse.pk))["seen"].value()


def test_every_admin_page_that_changes_a_record_checks_for_a_stale_page(rf, administrator):
    """Every model of the project that the admin site can change (the audit trail, the
    outbox and the script library's scripts are read-only there)."""
    request = rf.get("/admin/")
    request.user = administrator
    editable = {
        model._meta.label: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS and model_admin.has_change_permission(request)
    }

    assert sorted(editable) == [
        "boundaries.Unit",
        "boundaries.User",
        "incidents.Channel",
        "incidents.RequestType",
        "scripts_library.Category",
    ]
    for label, model_admin in editable.items():
        assert isinstance(model_admin, StalePageAdmin), label
        assert issubclass(model_admin.get_form(request, obj=None), StalePageForm) or (
            model_admin.model is User  # its add page is Django's own
        ), label
        obj = model_admin.model._default_manager.first()
        assert issubclass(model_admin.get_form(request, obj), StalePageForm), label
        for inline in model_admin.get_inline_instances(request, obj):
            if inline.has_change_permission(request, obj):
                assert issubclass(inline.get_formset(request, obj), StalePageFormSet), label
