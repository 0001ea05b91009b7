"""The admin site manages the taxonomy, and shows the email outbox. Incidents themselves
are not in the admin: administrators run the system, and the reports stay with the
people who need them."""

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.text import Truncator

from boundaries.admin import ReadOnlyAdmin
from boundaries.stale_pages import StalePageAdmin
from incidents import notifications
from incidents.models import Channel, QueuedEmail, RequestType


class TaxonomyAdmin(StalePageAdmin):
    list_display = ["name", "code", "position", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    ordering = ["position", "name"]

    def get_readonly_fields(self, request, obj=None):
        # Codes are what reports, scripts and rules refer to: fixed once created.
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # Incidents keep their type for ever; retire a type by unticking "active".
        return False


@admin.register(RequestType)
class RequestTypeAdmin(TaxonomyAdmin):
    list_display = ["name", "code", "base_severity", "position", "is_active"]
    list_filter = ["is_active", "base_severity"]
    fields = ["name", "code", "description", "base_severity", "position", "is_active"]


@admin.register(Channel)
class ChannelAdmin(TaxonomyAdmin):
    fields = ["name", "code", "position", "is_active"]


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("waiting", "Not sent yet (tried again at each run)"),
            ("given_up", "Given up on"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.waiting()
        if self.value() == "given_up":
            return queryset.given_up()
        return queryset


@admin.register(QueuedEmail)
class QueuedEmailAdmin(ReadOnlyAdmin):
    """The outbox, read-only: the emails the mail server has not taken, to whom, and its
    last answer, which is what it takes to put a delivery right. Emails are written by
    the app only. What they say is neither shown nor searchable (they name incidents: a
    reference, a unit, "high-severity"), and administrators hold no clinical role; nor
    are the emails sent listed, whose recipients would tell who filed a report and when
    it was reviewed."""

    list_display = ["pk", "recipient_list", "created_at", "attempts", "short_error"]
    list_display_links = ["pk", "recipient_list"]
    list_select_related = ["recipient"]
    list_filter = [OutboxStateFilter]
    ordering = ["-pk"]
    actions = ["send_again"]
    fields = [
        "recipient_list",
        "created_at",
        "attempts",
        "sending_since",
        "last_error",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).filter(sent_at__isnull=True)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The admin lets an address filter on any of the model's fields (?subject__contains=
        # would find the emails about high-severity incidents): only the state filter.
        return lookup == OutboxStateFilter.parameter_name

    def has_send_again_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.change_queuedemail")

    @admin.display(description="last error", ordering="last_error")
    def short_error(self, email: QueuedEmail) -> str:
        return Truncator(email.last_error).chars(80)

    @admin.display(description="recipients")
    def recipient_list(self, email: QueuedEmail) -> str:
        # Where the next attempt goes: the person's address as it is now (corrected,
        # perhaps, since the email was written), else the address last tried.
        if email.recipient is not None and email.recipient.email:
            return email.recipient.email
        return ", ".join(email.written_to)

    @admin.action(description="Send again (emails given up on)", permissions=["send_again"])
    def send_again(self, request: HttpRequest, queryset) -> None:
        """The next run of send_incident_digests tries them again, up to the usual
        number of times: for emails given up on while the mail server was misconfigured
        or down for longer than that."""
        chosen = list(queryset.values_list("pk", flat=True))
        queued = notifications.send_again(ids=chosen, request=request)
        left = len(chosen) - queued
        text = f"{queued} email{'' if queued == 1 else 's'} will be tried again at the next run."
        if left:
            text += (
                f" {left} left as {'it was' if left == 1 else 'they were'}: only an email "
                "given up on is sent again."
            )
        self.message_user(request, text, messages.SUCCESS if queued else messages.WARNING)
