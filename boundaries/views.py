"""Organisation-wide views: the home redirect, support, the health check, errors."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from boundaries.access import home_url

logger = logging.getLogger(__name__)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each person to the page their role starts from."""
    return redirect(home_url(request.user))


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health check: database unavailable")
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler. While the database is unreachable (a restart, a failover) the
    person gets a calm "please try again" page and a 503 rather than an error."""
    # Django calls this handler while handling the exception.
    exception = sys.exception()
    if isinstance(exception, (OperationalError, InterfaceError)):
        logger.warning("database unavailable; answered 503")
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "5"
    else:
        # Rendered without a request context: the failure may be in what it would load.
        response = HttpResponse(render_to_string("500.html"), status=500)
    add_never_cache_headers(response)
    return response


@login_required
@require_GET
def support(request: HttpRequest) -> HttpResponse:
    """Debrief and Employee Assistance Programme details, one click from every page."""
    return render(request, "support.html", {"eap_contact": settings.BOUNDARIES["EAP_CONTACT"]})
