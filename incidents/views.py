"""Views for reporters: filing incidents and following them up."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from boundaries.access import STAFF_ROLES, role_required
from incidents.models import Incident


@role_required(*STAFF_ROLES)
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    incidents = (
        Incident.objects.reported_by(request.user)
        .select_related("request_type")
        .order_by("-occurred_at", "-id")[:50]
    )
    return render(request, "incidents/incident_list.html", {"incidents": incidents})
