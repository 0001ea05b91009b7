from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from boundaries.models import Membership, Unit, User

admin.site.site_header = "Boundaries administration"
admin.site.site_title = "Boundaries administration"
admin.site.index_title = "People, units and settings"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["unit"]
    verbose_name = "unit"
    verbose_name_plural = "Units this person works in"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "job_title", "is_active"]
    list_filter = ["role", "job_title", "is_active", "units"]
    search_fields = ["username", "first_name", "last_name", "email"]
    ordering = ["last_name", "first_name", "username"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email", "job_title")}),
        (
            "Role",
            {
                "fields": ("role", "is_active"),
                "description": "Deactivating someone signs them out at their next request.",
            },
        ),
        (
            "Administrator access",
            {"classes": ("collapse",), "fields": ("is_staff", "is_superuser", "groups")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "first_name",
                    "last_name",
                    "email",
                    "job_title",
                    "role",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    readonly_fields = ["last_login", "date_joined"]


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "is_active", "member_count"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="People", ordering="member_count")
    def member_count(self, unit: Unit) -> int:
        return unit.member_count
