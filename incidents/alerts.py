"""Pattern alerts over incidents (built out by the supervisor work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from incidents.models import Incident


def evaluate_incident(incident: Incident, *, request: HttpRequest | None = None) -> list:
    """Raise or extend the alerts a newly filed incident matches. Runs inside the
    filing transaction."""
    return []
