"""The admin site manages the taxonomy. Incidents themselves are not in the admin:
administrators run the system, and the reports stay with the people who need them."""

from django.contrib import admin

from incidents.models import Channel, RequestType


class TaxonomyAdmin(admin.ModelAdmin):
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
