"""Template context shared by every page."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

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


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        path = request.path
        for item in NAVIGATION:
            if has_role(user, *item.roles):
                url = reverse(item.url_name)
                items.append({"label": item.label, "url": url, "current": path == url})
    return {
        "nav_items": items,
        "organisation_name": settings.BOUNDARIES["ORGANISATION_NAME"],
    }
