"""The admin site, behind the same two-step sign-in as the rest of Boundaries.

It lives apart from ``admin.py`` because Django builds the default site while other
apps' admin modules import, before ``boundaries.admin`` has finished importing.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models.base import ModelBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse

from boundaries import audit
from boundaries.access import redirect_to_second_factor, second_factor_pending


class _SafeLookupsChangeList(ChangeList):
    def get_filters(self, request):
        return _lookups_checked(super().get_filters, request)

    def get_queryset(self, request, exclude_parameters=None):
        return _lookups_checked(super().get_queryset, request, exclude_parameters)

    def get_results(self, request):
        return _lookups_checked(super().get_results, request)


def _lookups_checked(step, *args):
    try:
        return step(*args)
    except (ValueError, OverflowError) as error:
        # A value from a hand-edited address that the calendar or the column cannot
        # hold (year -1, year 10**20, an id of letters): the admin's "invalid lookup"
        # (the list again, unfiltered), not a server error.
        raise IncorrectLookupParameters(error) from error


class SafeLookups:
    """Every list in the admin site: an impossible value in its address gets the list
    back unfiltered, as any other invalid filter does, and an action on ids that are
    not ids is refused with the admin's own message."""

    def get_changelist(self, request, **kwargs):
        return _SafeLookupsChangeList

    def response_action(self, request, queryset, *args, **kwargs):
        field = self.model._meta.pk
        try:
            low, high = connection.ops.integer_field_range(field.get_internal_type())
        except KeyError:  # not a number (a UUID, say): to_python alone checks it
            low = high = None
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                key = field.to_python(value)
                # An id no column can hold (SQLite refuses it with a server error;
                # PostgreSQL drops it and acts on the rest).
                if isinstance(key, int) and not (
                    (low is None or key >= low) and (high is None or key <= high)
                ):
                    raise ValidationError("out of range")
            except ValidationError:
                self.message_user(
                    request, "Those items could not be found. Nothing was changed.", "error"
                )
                return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, *args, **kwargs)


def _with_safe_lookups(admin_class):
    admin_class = admin_class or admin.ModelAdmin
    if issubclass(admin_class, SafeLookups):
        return admin_class
    return type(admin_class.__name__, (SafeLookups, admin_class), {"__module__": __name__})


class BoundariesAdminSite(admin.AdminSite):
    """The admin site, reached through the same sign-in (password, then the second
    step) as the rest of Boundaries."""

    site_header = "Boundaries administration"
    site_title = "Boundaries administration"
    index_title = "People, units and settings"
    # Secret keys and backup codes are never shown, not even to administrators: the
    # way back in for someone who lost their phone is "Reset two-factor sign-in".
    hidden_models = frozenset({"otp_totp.totpdevice", "otp_static.staticdevice"})

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        models = (
            [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable
        )
        shown = [model for model in models if model._meta.label_lower not in self.hidden_models]
        if shown:
            super().register(shown, _with_safe_lookups(admin_class), **options)

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not second_factor_pending(request)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(
                request.GET.get("next") or reverse("admin:index"), settings.LOGIN_URL
            )
        if second_factor_pending(request):
            return redirect_to_second_factor(request)
        # Signed in, but not an administrator.
        audit.record_route_refused(request=request)
        raise PermissionDenied

    def password_change(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # The app's own page: the current password checked as at sign-in (lockout,
        # failures recorded), and the change recorded.
        return redirect("password_change")

    def logout(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        from boundaries.views import SignOutView

        return SignOutView.as_view()(request)
