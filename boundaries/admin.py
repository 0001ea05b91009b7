from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import ReadOnlyPasswordHashWidget, UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef
from django.http import HttpRequest
from django.shortcuts import redirect
from django_otp.plugins.otp_totp.models import TOTPDevice

from boundaries import audit, two_factor
from boundaries.models import AuditEvent, Membership, Role, Unit, User
from boundaries.stale_pages import StalePageAdmin, StalePageForm, StalePageFormSet

ONE_MAIN_UNIT = "membership_one_primary"


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["unit", "is_primary"]

    def validate_constraints(self) -> None:
        # Every constraint but the one main unit, which is not checked row by row
        # against the database, where the person's rows may be changing in this same
        # save (moving the main unit from one row to another): MembershipFormSet checks
        # it across the rows, and the database still holds it.
        exclude = self._get_validation_exclusions()
        for constraint in Membership._meta.constraints:
            if constraint.name == ONE_MAIN_UNIT:
                continue
            try:
                constraint.validate(Membership, self.instance, exclude=exclude)
            except ValidationError as error:
                self._update_errors(error)


class MembershipFormSet(StalePageFormSet):
    """A person's units: one main unit at most, each unit once; a page drawn before a
    colleague's change to them saves nothing."""

    stale_name = "this person's units"

    def _kept(self) -> list[forms.ModelForm]:
        return [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not self._should_delete_form(form)
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if sum(bool(form.cleaned_data.get("is_primary")) for form in self._kept()) > 1:
            raise ValidationError(
                "Tick one main unit only: a person has one main unit.", code="one_main_unit"
            )

    def save(self, commit: bool = True):
        # The database checks one main unit row by row: the old one is cleared first, so
        # that moving it to another row in one save never meets it still in place.
        if commit and self.instance.pk:
            staying = [
                form.instance.pk
                for form in self._kept()
                if form.instance.pk and form.cleaned_data.get("is_primary")
            ]
            Membership.objects.filter(user=self.instance, is_primary=True).exclude(
                pk__in=staying
            ).update(is_primary=False)
        return super().save(commit)


def _script_path(script) -> str:
    """A script in a Media list: a path, or (Django 6) an object holding one."""
    return str(getattr(script, "_path", script))


class MembershipInline(admin.StackedInline):
    # Stacked, with a plain drop-down: each tick box and the unit get a label of their
    # own (the tabular rows' tick boxes and the search-as-you-type picker had no
    # accessible name).
    model = Membership
    form = MembershipForm
    formset = MembershipFormSet
    extra = 1
    verbose_name = "unit"

    @property
    def media(self):
        # Without the admin's script for adding rows, which marks the formset's hidden
        # fields in a way HTML does not allow: one blank row is offered instead (save
        # and continue to add another).
        media = super().media
        return forms.Media(
            js=[js for js in media._js if not _script_path(js).endswith("inlines.js")],
            css=media._css,
        )

    verbose_name_plural = "Units this person works in"


class PasswordSummaryWidget(ReadOnlyPasswordHashWidget):
    """The password's summary and its link, without the "disabled" that Django puts on
    the summary's <div> (HTML allows it on form controls only)."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("disabled", None)
        return context


class PersonChangeForm(StalePageForm, UserChangeForm):
    stale_name = "person"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "password" in self.fields:
            self.fields["password"].widget = PasswordSummaryWidget()


@admin.register(User)
class UserAdmin(StalePageAdmin, DjangoUserAdmin):
    list_display = [
        "username",
        "first_name",
        "last_name",
        "role",
        "job_title",
        "is_active",
        "has_authenticator",
    ]
    actions = ["reset_two_factor"]
    list_filter = ["role", "job_title", "is_active", "units"]
    search_fields = ["username", "first_name", "last_name", "email"]
    ordering = ["last_name", "first_name", "username"]
    inlines = [MembershipInline]
    form = PersonChangeForm
    # Plain multiple choice for groups: the two-box picker's markup is not valid HTML.
    filter_horizontal = ()
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

    def get_queryset(self, request):
        confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(authenticator=Exists(confirmed))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # People are deactivated, never deleted: incidents and the audit trail name them,
        # and the confirmation page would list their incidents to an administrator.
        return False

    def user_change_password(self, request: HttpRequest, id, form_url=""):
        # One's own password: the app's page, which asks for the current one (counted
        # towards the lockout) and records the change; this page asks for neither.
        if unquote(id) == str(request.user.pk):
            return redirect("password_change")
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            audit.record(
                action=audit.Action.PASSWORD_SET,
                request=request,
                target=self.get_object(request, unquote(id)),
            )
        return response

    @admin.display(description="Two-factor set up", boolean=True, ordering="authenticator")
    def has_authenticator(self, user: User) -> bool:
        return user.authenticator

    @admin.action(description="Reset two-factor sign-in", permissions=["change"])
    def reset_two_factor(self, request: HttpRequest, queryset) -> None:
        """For someone who lost their phone and their backup codes: their authenticator
        and backup codes are removed, and they set up a new one at their next sign-in.
        Check who is asking before you do this."""
        people = list(queryset)
        for person in people:
            two_factor.reset_second_factor(user=person, by=request.user, request=request)
        self.message_user(
            request,
            f"Two-factor sign-in was reset for {len(people)} "
            f"{'person' if len(people) == 1 else 'people'}. They will set it up again "
            "when they next sign in.",
            messages.SUCCESS,
        )


@admin.register(Unit)
class UnitAdmin(StalePageAdmin):
    list_display = ["name", "code", "kind", "is_active", "member_count"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Units are marked inactive, never deleted: their incidents keep them, and the
        # confirmation page would list those incidents to an administrator.
        return False

    @admin.display(description="People", ordering="member_count")
    def member_count(self, unit: Unit) -> int:
        return unit.member_count


def _choices_filter(title: str, field: str, choices) -> type[admin.SimpleListFilter]:
    """A list filter that offers an enumeration's labels for a plain text column."""

    class ChoicesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return choices

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{field: self.value()})
            return queryset

    ChoicesFilter.title = title
    return ChoicesFilter


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the app writes and nobody edits through the admin (the audit trail, the
    email outbox): shown, never added, changed or deleted there."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The whole trail, for administrators: searchable and read-only."""

    list_display = [
        "occurred_at",
        "action_label",
        "actor",
        "role_label",
        "object_type",
        "object_id",
        "unit",
        "outcome_label",
        "source_address",
    ]
    list_filter = [
        _choices_filter("action", "action", audit.Action.choices),
        _choices_filter("outcome", "outcome", audit.Outcome.choices),
        _choices_filter("role", "actor_role", Role.choices),
        "unit",
    ]
    list_select_related = ["actor", "unit"]
    date_hierarchy = "occurred_at"
    search_fields = ["=object_id", "=actor__username"]
    ordering = ["-id"]
    show_full_result_count = False
    fields = [
        "occurred_at",
        "action",
        "actor",
        "actor_role",
        "object_type",
        "object_id",
        "unit",
        "source_address",
        "outcome",
        "previous_hash",
        "hash",
    ]

    @admin.display(description="action", ordering="action")
    def action_label(self, event: AuditEvent) -> str:
        return event.get_action_display()

    @admin.display(description="role", ordering="actor_role")
    def role_label(self, event: AuditEvent) -> str:
        return event.get_actor_role_display()

    @admin.display(description="outcome", ordering="outcome")
    def outcome_label(self, event: AuditEvent) -> str:
        return event.get_outcome_display()
