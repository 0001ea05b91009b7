"""Administrators add request types and channels; codes stay fixed; nothing is deleted."""

from incidents.models import RequestType


def test_administrators_add_a_request_type(administrator_client):
    response = administrator_client.post(
        "/admin/incidents/requesttype/add/",
        {
            "name": "Asked to witness a will",
            "code": "witness-will",
            "description": "Asked me to sign as a witness to a legal document.",
            "base_severity": "1",
            "position": "200",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert RequestType.objects.get(code="witness-will").base_severity == 1


def test_a_request_types_code_cannot_change_and_it_cannot_be_deleted(administrator_client):
    existing = RequestType.objects.get(code="gifts")
    page = administrator_client.get(f"/admin/incidents/requesttype/{existing.pk}/change/")
    assert page.status_code == 200
    assert b'name="code"' not in page.content
    delete = administrator_client.get(f"/admin/incidents/requesttype/{existing.pk}/delete/")
    assert delete.status_code == 403


def test_incidents_are_not_in_the_admin(administrator_client):
    assert administrator_client.get("/admin/incidents/incident/").status_code == 404
