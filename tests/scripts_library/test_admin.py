"""The library in the admin site: searchable and filterable, but read-only for scripts,
whose changes go through the approval pages."""

from __future__ import annotations

from tests.factories import ScriptFactory, script_category


def test_administrator_searches_and_filters_scripts(administrator_client, db):
    ScriptFactory(version__title="Findable title", request_types=["gifts"])
    ScriptFactory(version__title="Other title")

    found = administrator_client.get("/admin/scripts_library/script/?q=Findable")
    filtered = administrator_client.get("/admin/scripts_library/script/?status__exact=approved")

    assert found.status_code == 200
    assert "Findable title" in found.content.decode()
    assert "Other title" not in found.content.decode()
    assert filtered.status_code == 200
    versions = administrator_client.get("/admin/scripts_library/scriptversion/?q=Findable")
    assert "Findable title" in versions.content.decode()


def test_scripts_cannot_be_added_changed_or_deleted_in_the_admin(administrator_client, db):
    script = ScriptFactory()
    version = script.current_version

    assert administrator_client.get("/admin/scripts_library/script/add/").status_code == 403
    assert (
        administrator_client.get(f"/admin/scripts_library/script/{script.pk}/delete/").status_code
        == 403
    )
    response = administrator_client.post(
        f"/admin/scripts_library/scriptversion/{version.pk}/change/", {"text": "Changed."}
    )
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.text != "Changed."


def test_category_code_is_fixed_once_created(administrator_client, db):
    category = script_category("policy")
    response = administrator_client.get(f"/admin/scripts_library/category/{category.pk}/change/")
    assert response.status_code == 200
    assert 'name="code"' not in response.content.decode()
    assert 'name="name"' in response.content.decode()
