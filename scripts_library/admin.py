"""The library in the admin site: for administrators to look things up. Scripts are
written, approved and retired in the library's own pages (/scripts/manage/), where the
approval rules apply (managers who approve scripts use those pages), so here they can
be browsed and searched but not changed."""

from django.contrib import admin

from boundaries.stale_pages import StalePageAdmin
from scripts_library.models import Category, Script, ScriptVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(StalePageAdmin):
    list_display = ["name", "code", "position", "summary"]
    search_fields = ["name", "code", "summary"]
    ordering = ["position", "name"]

    def get_readonly_fields(self, request, obj=None):
        # The starting library refers to categories by code.
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class VersionInline(admin.TabularInline):
    model = ScriptVersion
    fields = ["number", "title", "text", "state", "author", "decided_by", "decided_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Script)
class ScriptAdmin(ReadOnlyAdmin):
    list_display = ["key", "title", "category", "stage", "status"]
    list_filter = ["status", "stage", "category", "request_types", "channels"]
    search_fields = [
        "key",
        "current_version__title",
        "current_version__text",
        "current_version__guidance",
    ]
    list_select_related = ["current_version", "category"]
    inlines = [VersionInline]

    @admin.display(description="Title", ordering="current_version__title")
    def title(self, script: Script) -> str:
        return script.current_version.title if script.current_version else "(not approved yet)"


@admin.register(ScriptVersion)
class ScriptVersionAdmin(ReadOnlyAdmin):
    list_display = ["title", "script", "number", "state", "author", "decided_by", "decided_at"]
    list_filter = ["state", "stage", "category", "request_types"]
    search_fields = ["title", "text", "guidance", "script__key"]
    list_select_related = ["script__current_version", "author", "decided_by"]
    date_hierarchy = "created_at"
