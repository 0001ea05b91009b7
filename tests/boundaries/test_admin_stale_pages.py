"""Admin change pages drawn before a colleague's change save nothing and name what
differs; the same change sent twice is saved (boundaries/stale_pages.py)."""

from __future__ import annotations

from boundaries.admin import UserAdmin
from boundaries.models import User
from boundaries.stale_pages import StalePageForm
from tests.boundaries.test_people import _as_drawn


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
