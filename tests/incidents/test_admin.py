"""Administrators add request types and channels; codes stay fixed; nothing is deleted.
They read the email outbox, and can have an email given up on tried again."""

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boundaries import audit
from boundaries.models import AuditEvent, Role
from incidents.models import QueuedEmail, RequestType
from tests.conftest import client_for
from tests.factories import QueuedEmailFactory, UserFactory

OUTBOX = "/admin/incidents/queuedemail/"


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


def outbox_email(number: int = 1, **fields) -> QueuedEmail:
    return QueuedEmailFactory(
        recipient__email=f"supervisor{number}@example.org",
        subject=f"Boundaries: an update on your report BND-2026-{number:05d}",
        body=f"Read it here:\nhttps://boundaries.example.org/incidents/{number}/",
        **fields,
    )


def given_up(number: int = 1) -> QueuedEmail:
    return outbox_email(
        number,
        attempts=QueuedEmail.MAX_ATTEMPTS,
        last_error="SMTPRecipientsRefused: {'supervisor1@example.org': (550, b'No such user')}",
    )


def test_administrators_read_the_outbox_and_why_an_email_was_not_sent(administrator_client):
    sent = outbox_email(1, sent_at=timezone.now(), attempts=1)
    waiting = outbox_email(2, attempts=3, last_error="SMTPServerDisconnected: closed")
    refused = given_up(3)

    listed = administrator_client.get(OUTBOX)
    assert listed.status_code == 200
    # Not the email sent: its recipient would tell who filed a report and when.
    assert [email.pk for email in listed.context["cl"].result_list] == [refused.pk, waiting.pk]
    assert administrator_client.get(f"{OUTBOX}{sent.pk}/change/").status_code == 302
    assert "SMTPRecipientsRefused" in listed.content.decode()
    assert 'value="send_again"' in listed.content.decode()
    for state, email in (("waiting", waiting), ("given_up", refused)):
        response = administrator_client.get(f"{OUTBOX}?state={state}")
        assert [row.pk for row in response.context["cl"].result_list] == [email.pk], state

    page = administrator_client.get(f"{OUTBOX}{refused.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "supervisor3@example.org" in text
    assert "550" in text
    # What an email says names incidents; administrators hold no clinical role.
    for listing in (listed, page):
        assert "BND-2026" not in listing.content.decode()
        assert "boundaries.example.org/incidents/" not in listing.content.decode()
    assert "<textarea" not in text and 'name="subject"' not in text  # read-only


def test_nobody_adds_changes_or_deletes_emails_in_the_admin(administrator_client):
    email = given_up()
    assert administrator_client.get(f"{OUTBOX}add/").status_code == 403
    assert administrator_client.post(f"{OUTBOX}{email.pk}/delete/").status_code == 403
    response = administrator_client.post(f"{OUTBOX}{email.pk}/change/", {"subject": "Changed"})
    assert response.status_code == 403
    bulk_delete = administrator_client.post(
        OUTBOX, {"action": "delete_selected", "_selected_action": [email.pk], "post": "yes"}
    )
    assert bulk_delete.status_code in {200, 302}
    email.refresh_from_db()
    assert email.subject.startswith("Boundaries: an update")
    assert QueuedEmail.objects.filter(pk=email.pk).exists()


def test_people_other_than_administrators_cannot_open_the_outbox(
    manager_client, supervisor_client, nurse_client
):
    email = given_up()
    for client in (manager_client, supervisor_client, nurse_client):
        for path in (OUTBOX, f"{OUTBOX}{email.pk}/change/"):
            response = client.get(path, follow=True)
            assert response.status_code == 403, path
            assert b"BND-2026-00001" not in response.content


def test_an_administrator_who_may_only_view_emails_cannot_send_them_again(db):
    viewer = UserFactory(role=Role.ADMINISTRATOR, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_queuedemail"))
    client = client_for(viewer)
    email = given_up()

    listed = client.get(OUTBOX)
    assert listed.status_code == 200
    assert 'value="send_again"' not in listed.content.decode()
    client.post(OUTBOX, {"action": "send_again", "_selected_action": [email.pk]})
    email.refresh_from_db()
    assert email.attempts == QueuedEmail.MAX_ATTEMPTS
    assert client.get(f"{OUTBOX}{email.pk}/change/").status_code == 200

    stranger = UserFactory(role=Role.ADMINISTRATOR, is_staff=True)  # no permission at all
    assert client_for(stranger).get(OUTBOX).status_code == 403


def test_an_email_given_up_on_is_tried_again_at_the_next_run_and_recorded(
    administrator_client, administrator
):
    refused = given_up(1)
    waiting = outbox_email(2, attempts=3)
    sent = outbox_email(3, sent_at=timezone.now(), attempts=1)
    in_hand = given_up(4)  # its last hand-over may still be under way
    QueuedEmail.objects.filter(pk=in_hand.pk).update(sending_since=timezone.now())

    response = administrator_client.post(
        OUTBOX,
        {
            "action": "send_again",
            "_selected_action": [refused.pk, waiting.pk, sent.pk, in_hand.pk],
        },
        follow=True,
    )

    assert response.status_code == 200
    # The sent one is not in the outbox's list at all.
    assert "1 email will be tried again at the next run. 2 left as they were" in (
        response.content.decode()
    )
    attempts = dict(QueuedEmail.objects.values_list("pk", "attempts"))
    assert attempts == {
        refused.pk: 0,
        waiting.pk: 3,
        sent.pk: 1,
        in_hand.pk: QueuedEmail.MAX_ATTEMPTS,
    }
    assert list(QueuedEmail.objects.to_deliver(now=timezone.now() + timedelta(seconds=1))) == [
        refused,
        waiting,
    ]
    event = AuditEvent.objects.get(action=audit.Action.EMAIL_SENT_AGAIN)
    assert (event.actor, event.object_type, event.object_id) == (
        administrator,
        "incidents.queuedemail",
        str(refused.pk),
    )
    assert audit.verify_chain().ok


def test_an_email_sent_again_goes_to_the_address_its_person_has_now(administrator_client):
    """Given up on at a wrong address, the address corrected, sent again: it once went to
    the wrong address again."""
    refused = given_up(1)
    person = refused.recipient
    person.email = "supervisor1.corrected@example.org"
    person.save()

    listed = administrator_client.get(OUTBOX).content.decode()
    assert "supervisor1.corrected@example.org" in listed
    administrator_client.post(
        OUTBOX, {"action": "send_again", "_selected_action": [refused.pk]}, follow=True
    )
    call_command("send_incident_digests", verbosity=0)

    assert [message.to for message in mail.outbox] == [["supervisor1.corrected@example.org"]]
    refused.refresh_from_db()
    assert refused.sent_at is not None
    assert refused.recipients == ["supervisor1.corrected@example.org"]


def test_the_outbox_runs_the_same_queries_for_1_or_20_emails(administrator_client):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert administrator_client.get(OUTBOX).status_code == 200
        return len(captured)

    given_up(0)
    administrator_client.get(OUTBOX)
    one = count()
    for number in range(1, 20):
        outbox_email(number, sent_at=timezone.now() if number % 2 else None)
    assert QueuedEmail.objects.count() == 20
    assert count() == one


def test_the_outbox_cannot_be_searched_by_what_the_emails_say(administrator_client):
    """Found by review: the page hid the subject and text, but the admin's list takes a
    lookup on any of the model's fields in its address, so ?subject__contains=high-severity
    listed the emails about high-severity incidents and to whom they went."""
    urgent = QueuedEmail.objects.create(
        recipients=["sup-a@example.org"],
        subject="Boundaries: high-severity incident BND-2026-00042 in WARD-A",
        body="https://boundaries.example.org/incidents/42/",
    )
    for query in (
        "subject__contains=high-severity",
        "body__contains=/incidents/42/",
        "recipients__icontains=sup-a",
    ):
        response = administrator_client.get(f"{OUTBOX}?{query}")
        assert response.status_code == 400, query
    assert (
        administrator_client.get(f"{OUTBOX}?state=waiting").context["cl"].result_list[0] == urgent
    )
