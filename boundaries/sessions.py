"""Idle and absolute limits on a signed-in session, enforced on the server."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from boundaries import audit

STARTED_KEY = "_boundaries_started"
SEEN_KEY = "_boundaries_seen"
# Refresh the "last seen" time at most this often, so that reading pages does not
# write the session row on every request.
SEEN_RESOLUTION_SECONDS = 60


class SessionLimitsMiddleware:
    """Sign a person out after SESSION_IDLE_TIMEOUT without a request, or
    SESSION_ABSOLUTE_TIMEOUT after they signed in, whichever comes first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refresh = False
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.get(STARTED_KEY)
            seen = request.session.get(SEEN_KEY)
            if started is None or seen is None:
                request.session[STARTED_KEY] = request.session[SEEN_KEY] = now
            elif (
                now - seen > settings.SESSION_IDLE_TIMEOUT.total_seconds()
                or now - started > settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            ):
                audit.record(action=audit.Action.SESSION_EXPIRED, request=request)
                logout(request)
                messages.info(request, "You were signed out after a period of inactivity.")
            elif now - seen > SEEN_RESOLUTION_SECONDS:
                refresh = True
        response = self.get_response(request)
        # A request refused as not this person's doing (a report form left open by a
        # colleague, still saving in the background) is no sign that anyone is there:
        # it must not keep the session from idling out.
        if refresh and not getattr(response, NOT_ACTIVITY, False):
            request.session[SEEN_KEY] = now
        return response


# Set (True) on a response to a request that is not the signed-in person's activity.
NOT_ACTIVITY = "boundaries_not_activity"


def not_activity(response: HttpResponse) -> HttpResponse:
    setattr(response, NOT_ACTIVITY, True)
    return response
