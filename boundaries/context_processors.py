"""Template context shared by every page."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

from boundaries.access import REVIEW_ROLES, STAFF_ROLES, has_role
from boundaries.models import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: tuple[Role, ...]


# The navigation, in order. Each person sees the items their role may open.
NAVIGATION = (
    NavItem("My incidents", "incidents:list", STAFF_ROLES),
    NavItem("Report an incident", "incidents:new", STAFF_ROLES),
    NavItem("Scripts", "scripts_library:index", STAFF_ROLES),
    NavItem("Review", "incidents:review_queue", REVIEW_ROLES),
    NavItem("Alerts", "incidents:alert_list", REVIEW_ROLES),
    NavItem("Reports", "incidents:reports", REVIEW_ROLES),
    NavItem("Admin", "admin:index", (Role.ADMINISTRATOR,)),
)


@cache
def _urls(script_prefix: str) -> tuple[str, ...]:
    """The navigation's addresses, reversed once per process (and mount point): every
    page draws them, and reversing them was a tenth of the lightest page's time."""
    return tuple(reverse(item.url_name) for item in NAVIGATION)


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        path = request.path
        for item, url in zip(NAVIGATION, _urls(get_script_prefix()), strict=True):
            if has_role(user, *item.roles):
                items.append({"label": item.label, "url": url, "current": path == url})
    return {
        "nav_items": items,
        "organisation_name": settings.BOUNDARIES["ORGANISATION_NAME"],
    }
