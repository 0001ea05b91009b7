"""Who may do what: the one place where roles are checked.

Views declare the roles they serve with ``@role_required(...)``; which *objects* a person
may see is decided by each model's ``visible_to(user)`` queryset method, and the view
answers 404 for anything outside it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from boundaries.models import Role, User

# Everyone who works clinically can file and read their own incidents.
STAFF_ROLES = (Role.REPORTER, Role.SUPERVISOR, Role.MANAGER)
REVIEW_ROLES = (Role.SUPERVISOR, Role.MANAGER)

HOME_URL_NAMES = {
    Role.REPORTER: "incidents:list",
    Role.SUPERVISOR: "incidents:list",
    Role.MANAGER: "incidents:list",
    Role.ADMINISTRATOR: "admin:index",
}


def home_url(user: User) -> str:
    return reverse(HOME_URL_NAMES[Role(user.role)])


def has_role(user: User, *roles: Role) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in roles)


def role_required(*roles: Role) -> Callable:
    """Sign-in required; then 403 unless the person holds one of ``roles``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
