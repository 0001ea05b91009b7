"""Who may do what: the one place where roles and the second sign-in step are checked.

Views declare the roles they serve with ``@role_required(...)``; which *objects* a person
may see is decided by each model's ``visible_to(user)`` queryset method, and the view
answers 404 for anything outside it.

Two-factor sign-in: ``second_factor_pending(request)`` is the rule. Supervisors, managers
and administrators must pass a second step (a code from an authenticator app, or a
backup code) after their password; reporters must when
``BOUNDARIES["OTP_REQUIRED_FOR_REPORTERS"]`` is on, or when they have chosen to set one
up. Until they have, ``SecondFactorMiddleware`` lets the session reach only the
two-factor pages and sign-out, and ``role_required`` checks the same rule again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from boundaries import audit
from boundaries.models import Role, User

# Everyone who works clinically can file and read their own incidents.
STAFF_ROLES = (Role.REPORTER, Role.SUPERVISOR, Role.MANAGER)
REVIEW_ROLES = (Role.SUPERVISOR, Role.MANAGER)
# Roles that never sign in with a password alone.
SECOND_FACTOR_ROLES = (Role.SUPERVISOR, Role.MANAGER, Role.ADMINISTRATOR)

# Set in the session at sign-in for someone who has a second factor set up, so that a
# reporter who chose two-factor sign-in is asked for it without a query per request.
SECOND_FACTOR_SESSION_KEY = "_boundaries_second_factor"
# Set at the password step for someone who then owes the second one, and removed when
# they pass it (or are let in without it, their chosen one reset meanwhile): only until
# then has this session just shown the password. A session that owes
# the step for another reason (a role that needs it was given since, or an administrator
# reset the person's second factor) was signed in earlier, perhaps at a computer left
# open, and must show the password again before it may set up an authenticator.
SIGNING_IN_SESSION_KEY = "_boundaries_signing_in"
# Pages a half-signed-in session may open: the second step itself, and the way out.
SECOND_FACTOR_EXEMPT_URL_NAMES = frozenset({"two_factor", "two_factor_setup", "logout", "healthz"})

HOME_URL_NAMES = {
    Role.REPORTER: "incidents:list",
    Role.SUPERVISOR: "incidents:review_queue",
    Role.MANAGER: "incidents:reports",
    Role.ADMINISTRATOR: "admin:index",
}


def home_url(user: User) -> str:
    return reverse(HOME_URL_NAMES[Role(user.role)])


def has_role(user: User, *roles: Role) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in roles)


def second_factor_required(user: User) -> bool:
    """Whether this person's role means they must set up and use a second factor."""
    if user.role in SECOND_FACTOR_ROLES:
        return True
    return user.role == Role.REPORTER and settings.BOUNDARIES["OTP_REQUIRED_FOR_REPORTERS"]


def second_factor_pending(request: HttpRequest) -> bool:
    """True while a signed-in session still owes its second step."""
    user = request.user
    if not user.is_authenticated or user.is_verified():
        return False
    return second_factor_required(user) or bool(request.session.get(SECOND_FACTOR_SESSION_KEY))


def signing_in_now(request: HttpRequest) -> bool:
    """True while a session owes its second step straight after its password."""
    return second_factor_pending(request) and bool(request.session.get(SIGNING_IN_SESSION_KEY))


def redirect_to_second_factor(request: HttpRequest) -> HttpResponseRedirect:
    url = reverse("two_factor")
    if request.method == "GET":
        url = f"{url}?{urlencode({'next': request.get_full_path()})}"
    return HttpResponseRedirect(url)


class SecondFactorMiddleware:
    """Sends a session that has passed the password but not the second step back to
    that step, whatever page it asks for (the admin site and other apps' views too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and match.view_name in SECOND_FACTOR_EXEMPT_URL_NAMES:
            return None
        if second_factor_pending(request):
            return redirect_to_second_factor(request)
        return None


def role_required(*roles: Role) -> Callable:
    """Sign-in (with the second step where it is due) required; then 403, recorded in
    the audit trail, unless the person holds one of ``roles``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if second_factor_pending(request):
                return redirect_to_second_factor(request)
            if not has_role(request.user, *roles):
                audit.record_route_refused(request=request)
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
