"""Views for supervisors and managers: the review queue, reviews, and pattern alerts."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db.models import Case, Count, F, Q, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from boundaries import audit
from boundaries.access import REVIEW_ROLES, role_required
from boundaries.models import Role, Unit
from incidents import alerts, rows, services
from incidents.forms import (
    STATUS_LABELS,
    AcknowledgeAlertForm,
    AlertPageForm,
    QueueFilterForm,
    ResolveAlertForm,
    ReviewForm,
    ThresholdsForm,
)
from incidents.models import (
    Alert,
    AlertRule,
    AlertStatus,
    AlertThresholds,
    Incident,
    Patient,
    PersonResponse,
    Severity,
    Status,
)
from incidents.pagination import KeysetPage

QUEUE_PAGE_SIZE = 50
ALERT_PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 50
# The patient's unresolved alerts, then the most recently matched resolved ones.
TIMELINE_ALERTS = 10


def _get_reviewable_incident(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(Incident.objects.reviewable_by(request.user), pk=pk)


def _get_alert_for_user(request: HttpRequest, public_id: uuid.UUID) -> Alert:
    return get_object_or_404(
        Alert.objects.visible_to(request.user).select_related("patient"), public_id=public_id
    )


def _filtered_queue(reviewable, form: QueueFilterForm):
    # Only what a queue row shows: the descriptions and notes stay in the database.
    # (The two names as annotations: one object a row instead of three.)
    incidents = reviewable.only(
        "occurred_at", "submitted_at", "severity", "status", "review_due_at", "closed_at"
    ).annotate(unit_code=F("unit__code"), request_type_name=F("request_type__name"))
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or "open"
    if status == "open":
        incidents = incidents.filter(status__in=[Status.SUBMITTED, Status.UNDER_REVIEW])
    else:
        incidents = incidents.filter(status=status)
    for field in ("unit", "request_type", "severity"):
        if data.get(field) is not None:
            incidents = incidents.filter(**{field: data[field]})
    if data.get("occurred_from"):
        incidents = incidents.filter(occurred_at__date__gte=data["occurred_from"])
    if data.get("occurred_to"):
        incidents = incidents.filter(occurred_at__date__lte=data["occurred_to"])
    # Not yet reviewed first ("submitted" sorts before "under_review"), soonest due first.
    keys = ("-closed_at", "-id") if status == Status.CLOSED else ("status", "review_due_at", "id")
    return incidents, keys


@role_required(*REVIEW_ROLES)
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or None, user=request.user)
    # One query for the person's units, shared by the list, the counts and the key of
    # the cached filter form.
    unit_ids = Unit.objects.ids_supervised_by(request.user)
    reviewable = Incident.objects.reviewable_by(request.user, unit_ids=unit_ids)
    incidents, keys = _filtered_queue(reviewable, form)
    page = KeysetPage.from_request(request, incidents, size=QUEUE_PAGE_SIZE, keys=keys)
    now = timezone.now()
    # Only open incidents count here: the status filter lets PostgreSQL count them from
    # the review-queue index instead of reading every incident the units ever had.
    open_statuses = [Status.SUBMITTED, Status.UNDER_REVIEW]
    # Counting "status" (never null), not the id: every column read is then in the
    # review-queue index, and PostgreSQL counts from the index alone.
    summary = reviewable.filter(status__in=open_statuses).aggregate(
        awaiting=Count("status", filter=Q(status=Status.SUBMITTED)),
        overdue=Count("status", filter=Q(status=Status.SUBMITTED, review_due_at__lt=now)),
        under_review=Count("status", filter=Q(status=Status.UNDER_REVIEW)),
    )
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "page": page,
        "rows": _queue_rows(page.items, now=now),
        "summary": summary,
        "query": query,
        # The empty filter form is the same for everyone with the same units; drawing
        # its widgets was a third of the page, so it is cached (templates say how long).
        "filter_cache_key": ",".join(map(str, unit_ids)),
    }
    return render(request, "incidents/review_queue.html", context)


QUEUE_ROW = (
    '<tr><td data-label="Reference"><a href="{url}#review">{reference}</a></td>'
    '<td data-label="When">{when}</td><td data-label="Unit">{unit}</td>'
    '<td data-label="What">{what}</td>'
    '<td data-label="Severity">'
    '<span class="badge severity-{severity}">{severity_label}</span></td>'
    '<td data-label="Status">{status_label}</td>'
    '<td data-label="Review due">{due}{overdue}</td></tr>'
)
OVERDUE_BADGE = ' <span class="badge text-bg-danger">Overdue</span>'


def _queue_rows(incidents: list[Incident], *, now) -> str:
    detail = rows.route("incidents:detail")
    # The queue's own words for a status, as its counts, filter and review form say
    # them ("Not yet reviewed", not "Submitted").
    severities, statuses = rows.labels(Severity), STATUS_LABELS
    return rows.join(
        QUEUE_ROW,
        [
            {
                "url": detail(incident.pk),
                "reference": incident.reference,
                "when": rows.day_month_year_time(incident.occurred_at),
                "unit": incident.unit_code,
                "what": incident.request_type_name,
                "severity": incident.severity,
                "severity_label": severities[incident.severity],
                "status_label": statuses[incident.status],
                "due": rows.day_month_year_time(incident.review_due_at),
                "overdue": rows.optional(
                    incident.status == Status.SUBMITTED and incident.review_due_at < now,
                    OVERDUE_BADGE,
                ),
            }
            for incident in incidents
        ],
    )


@role_required(*REVIEW_ROLES)
@require_POST
def incident_review(request: HttpRequest, pk: int) -> HttpResponse:
    from incidents.views import render_detail

    incident = _get_reviewable_incident(request, pk)
    form = ReviewForm(request.POST, incident=incident)
    # Someone saved first: say so before judging the form against the incident as it is
    # now (the status this page offered may no longer be on offer).
    posted = request.POST.get("version", "")
    if posted.isascii() and posted.isdigit() and posted != str(incident.version):
        return _review_conflict(request, incident, form)
    if not form.is_valid():
        return render_detail(request, incident, review_form=form, status=200)
    try:
        saved = services.review_incident(
            incident=incident,
            reviewer=request.user,
            expected_version=form.cleaned_data["version"],
            status=form.cleaned_data["status"],
            feedback=form.cleaned_data["feedback"],
            internal_note=form.cleaned_data["internal_note"],
            actions=form.action_flags(),
            reopen_reason=form.cleaned_data.get("reopen_reason", ""),
            request=request,
        )
    except services.ReviewConflict:
        return _review_conflict(request, incident, form)
    except Incident.DoesNotExist:
        raise Http404 from None  # the retention purge removed it meanwhile
    except services.InvalidTransition:
        form.add_error("status", "That status change is not allowed from here.")
        return render_detail(request, incident, review_form=form, status=200)
    if saved.version == form.cleaned_data["version"]:
        messages.info(request, "Nothing had changed, so there was nothing to save.")
    elif saved.status != incident.status or saved.feedback != incident.feedback:
        # ``incident`` is the record as this request first read it; the reporter is
        # emailed as ``notifications.incident_updated`` chooses.
        reporter = saved.reporter
        if reporter.is_active and reporter.email:
            messages.success(request, "Review saved. The reporter is emailed that there is news.")
        else:
            messages.success(
                request,
                "Review saved. The reporter has left or has no email address here, so is not "
                "emailed.",
            )
    else:
        messages.success(
            request,
            "Review saved. Only what the reporter does not see changed (the follow-up or "
            "the internal note), so they are not emailed.",
        )
    return redirect(incident)


def _review_conflict(request: HttpRequest, incident: Incident, form: ReviewForm) -> HttpResponse:
    from incidents.views import render_detail

    incident.refresh_from_db()
    if incident.reviewed_by_id == request.user.pk and form.is_valid() and form.matches(incident):
        # The same review sent twice (a double click): the first one saved it, whether
        # before this request read the incident or while it waited for the lock.
        messages.success(request, "Review saved.")
        return redirect(incident)
    messages.error(
        request,
        "This incident changed while you were working on it: someone else saved a review, "
        "or the reporter added to the report. Nothing of yours was saved and nothing of "
        "theirs was overwritten. The latest version is shown below; your text is kept in "
        "the form so you can re-apply it.",
    )
    data = form.data.copy()
    data["version"] = str(incident.version)
    return render_detail(
        request, incident, review_form=ReviewForm(data, incident=incident), status=409
    )


ALERT_ROW = (
    '<li class="border rounded p-3 mb-2">'
    '<h2 class="h5 mb-1"><a href="{url}">{rule_label}</a></h2>'
    '<p class="mb-1">{explanation}</p>'
    '<p class="small text-body-secondary mb-0">'
    '<span class="badge severity-{severity}">{severity_label}</span> '
    "{status_label} · {incident_count} incident{plural} · last {last}{timeline}</p></li>"
)
TIMELINE_LINK = ' · <a href="{url}">Patient timeline</a>'


@role_required(*REVIEW_ROLES)
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "unresolved")
    visible = Alert.objects.visible_to(request.user)
    if status in AlertStatus.values:
        visible = visible.filter(status=status)
    else:
        status = "unresolved"
        visible = visible.unresolved()
    page = KeysetPage.from_request(
        request,
        # Only the patient's opaque id is needed (for the timeline link).
        visible.annotate(patient_public_id=F("patient__public_id")),
        size=ALERT_PAGE_SIZE,
        keys=("-last_matched_at", "-id"),
    )
    thresholds = AlertThresholds.current()
    detail = rows.route("incidents:alert_detail", uuid=True)
    timeline = rows.route("incidents:patient_timeline", uuid=True)
    rules, severities, statuses = (
        rows.labels(AlertRule),
        rows.labels(Severity),
        rows.labels(AlertStatus),
    )
    alert_rows = rows.join(
        ALERT_ROW,
        [
            {
                "url": detail(alert.public_id),
                "rule_label": rules[alert.rule],
                "explanation": alerts.explain(alert, thresholds),
                "severity": alert.severity,
                "severity_label": severities[alert.severity],
                "status_label": statuses[alert.status],
                "incident_count": alert.incident_count,
                "plural": "" if alert.incident_count == 1 else "s",
                "last": rows.day_month_year(alert.last_matched_at),
                "timeline": rows.optional(
                    alert.patient_id is not None,
                    TIMELINE_LINK,
                    url=timeline(alert.patient_public_id),
                ),
            }
            for alert in page.items
        ],
    )
    context = {"page": page, "rows": alert_rows, "status": status, "statuses": AlertStatus.choices}
    return render(request, "incidents/alert_list.html", context)


def _units_seen_in_full(request: HttpRequest) -> list[int] | None:
    """The ids of the units whose incidents this person sees in full; None for all."""
    if request.user.role == Role.MANAGER:
        return None
    return Unit.objects.ids_supervised_by(request.user)


def _incidents_split(incidents, unit_ids: list[int] | None):
    """The incidents this person may see in full (``_units_seen_in_full``), and how
    many others there are."""
    if unit_ids is None:
        return incidents, 0
    return incidents.filter(unit__in=unit_ids), incidents.exclude(unit__in=unit_ids).count()


def _rests_on_own_reports(request: HttpRequest, alert: Alert) -> bool:
    """Whether every incident behind the alert that this person sees in full is their
    own report: then, as with a report, someone else decides on it. Incidents in units
    they do not supervise are only a number to them, so an alert spanning units whose
    incidents in their own units are all theirs is decided by the other units'
    supervisors (or a manager), not on the strength of their own reports."""
    others = alert.incidents.exclude(reporter=request.user)
    unit_ids = _units_seen_in_full(request)
    if unit_ids is not None:
        others = others.filter(unit__in=unit_ids)
    return not others.exists()


OWN_ALERT = (
    "This alert rests only on reports you made (all its incidents in your units are "
    "yours), so another supervisor or a manager acknowledges and resolves it."
)


def _render_alert(request, alert: Alert, *, ack_form=None, resolve_form=None, status=200):
    # Read before the incidents the page lists (a link added in between is then shown
    # but not counted as seen: the page is refused, never the other way round).
    latest_link = alert.links.latest_id()
    shown, elsewhere = _incidents_split(alert.incidents.all(), _units_seen_in_full(request))
    context = {
        # A form refused, or drawn again after a new incident joined the alert (409).
        "has_errors": status == 409
        or any(form is not None and form.errors for form in (ack_form, resolve_form)),
        "alert": alert,
        "own_alert": OWN_ALERT if _rests_on_own_reports(request, alert) else "",
        "explanation": alerts.explain(alert),
        "incidents": shown.select_related("unit", "request_type").order_by("occurred_at"),
        "elsewhere": elsewhere,
        "ack_form": ack_form or AcknowledgeAlertForm(latest_link=latest_link),
        "resolve_form": resolve_form or ResolveAlertForm(latest_link=latest_link),
    }
    return render(request, "incidents/alert_detail.html", context, status=status)


@role_required(*REVIEW_ROLES)
@require_GET
def alert_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _render_alert(request, _get_alert_for_user(request, public_id))


def _already_handled(request: HttpRequest, alert: Alert) -> HttpResponse:
    # Acknowledged or resolved meanwhile, perhaps by a colleague a moment ago: show them
    # what was done.
    alert.refresh_from_db(fields=["status"])
    done = "resolved" if alert.status == AlertStatus.RESOLVED else "acknowledged"
    messages.error(request, f"This alert is already {done}, so nothing was changed.")
    return redirect(alert)


def _drawn_before_a_change(form: AlertPageForm, alert: Alert) -> bool:
    """A form sent with mistakes from a page drawn before a new incident joined the
    alert: drawn again as it was, its next sending would count as having seen it."""
    return services.changed_since(
        alert, form.cleaned_data.get("seen_link"), form.cleaned_data.get("seen_incidents")
    )


def _alert_changed(request: HttpRequest, alert: Alert, form: AlertPageForm) -> HttpResponse:
    # A new incident joined the alert (perhaps opening it again) since the page was
    # drawn: show it, with what they typed, before anything is done on it.
    alert.refresh_from_db()
    messages.error(
        request,
        "A new incident joined this alert since you opened the page, so nothing was "
        "changed. Look at the incidents below, then try again: what you typed is kept.",
    )
    redrawn = type(form).redrawn(form.data, latest_link=alert.links.latest_id())
    if isinstance(redrawn, AcknowledgeAlertForm):
        return _render_alert(request, alert, ack_form=redrawn, status=409)
    return _render_alert(request, alert, resolve_form=redrawn, status=409)


@role_required(*REVIEW_ROLES)
@require_POST
def alert_acknowledge(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    alert = _get_alert_for_user(request, public_id)
    if _rests_on_own_reports(request, alert):
        messages.error(request, OWN_ALERT)
        return redirect(alert)
    form = AcknowledgeAlertForm(request.POST)
    if not form.is_valid():
        if _drawn_before_a_change(form, alert):
            return _alert_changed(request, alert, form)
        return _render_alert(request, alert, ack_form=form)
    try:
        services.acknowledge_alert(
            alert=alert,
            user=request.user,
            note=form.cleaned_data["note"],
            action=form.cleaned_data["action"],
            seen_link=form.cleaned_data["seen_link"],
            seen_incidents=form.cleaned_data["seen_incidents"],
            request=request,
        )
    except services.InvalidTransition:
        return _already_handled(request, alert)
    except services.AlertChanged:
        return _alert_changed(request, alert, form)
    except Alert.DoesNotExist:
        raise Http404 from None  # the retention purge removed it meanwhile
    messages.success(request, "Alert acknowledged.")
    return redirect(alert)


@role_required(*REVIEW_ROLES)
@require_POST
def alert_resolve(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    alert = _get_alert_for_user(request, public_id)
    if _rests_on_own_reports(request, alert):
        messages.error(request, OWN_ALERT)
        return redirect(alert)
    form = ResolveAlertForm(request.POST)
    if not form.is_valid():
        if _drawn_before_a_change(form, alert):
            return _alert_changed(request, alert, form)
        return _render_alert(request, alert, resolve_form=form)
    try:
        services.resolve_alert(
            alert=alert,
            user=request.user,
            note=form.cleaned_data["resolution"],
            seen_link=form.cleaned_data["seen_link"],
            seen_incidents=form.cleaned_data["seen_incidents"],
            request=request,
        )
    except services.InvalidTransition:
        return _already_handled(request, alert)
    except services.AlertChanged:
        return _alert_changed(request, alert, form)
    except Alert.DoesNotExist:
        raise Http404 from None  # the retention purge removed it meanwhile
    messages.success(request, "Alert resolved. A new matching incident will raise a new alert.")
    return redirect(alert)


TIMELINE_ROW = (
    '<li class="border-start border-3 ps-3 pb-3">'
    '<p class="mb-1"><strong>{when}</strong> · {unit} · '
    '<span class="badge severity-{severity}">{severity_label}</span></p>'
    '<p class="mb-1">{what}; {response}. Reported by {reporter}.</p>'
    '<a href="{url}">{reference}</a></li>'
)
TIMELINE_ALERT_LINK = '<a href="{url}">{rule} ({status})</a>'


@role_required(*REVIEW_ROLES)
@require_GET
def patient_timeline(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """One patient's incidents, oldest first: those of the person's units in full, and a
    count of those elsewhere."""
    patient = get_object_or_404(Patient, public_id=public_id)
    unit_ids = _units_seen_in_full(request)
    shown, elsewhere = _incidents_split(patient.incidents.all(), unit_ids)
    # Pages of TIMELINE_PAGE_SIZE and a bounded list of alerts: a frequent attender's
    # years of history cost no more to show than a newcomer's. Only what a row shows
    # is read, the names as annotations (one object a row instead of four).
    page = KeysetPage.from_request(
        request,
        shown.only("occurred_at", "submitted_at", "severity", "person_response").annotate(
            unit_code=F("unit__code"),
            request_type_name=F("request_type__name"),
            reporter_first_name=F("reporter__first_name"),
            reporter_last_name=F("reporter__last_name"),
            reporter_username=F("reporter__username"),
        ),
        size=TIMELINE_PAGE_SIZE,
        keys=("occurred_at", "id"),
    )
    if not page.items and (page.is_first or not shown.exists()):
        # None of this patient's incidents are in the person's units: not theirs to see.
        raise Http404
    audit.record(action=audit.Action.TIMELINE_VIEWED, request=request, target=patient)
    alerts_shown = (
        Alert.objects.all() if unit_ids is None else Alert.objects.involving_units(unit_ids)
    )
    alerts_shown = (
        alerts_shown.filter(patient=patient)
        .alias(settled=Case(When(status=AlertStatus.RESOLVED, then=1), default=0))
        .order_by("settled", "-last_matched_at", "-id")
        .only("public_id", "rule", "status")[:TIMELINE_ALERTS]
    )
    alert_detail = rows.route("incidents:alert_detail", uuid=True)
    rules, statuses = rows.labels(AlertRule), rows.labels(AlertStatus)
    detail = rows.route("incidents:detail")
    severities, responses = rows.labels(Severity), rows.labels(PersonResponse)
    context = {
        "patient": patient,
        "incidents": page.items,
        "rows": rows.join(
            TIMELINE_ROW,
            [
                {
                    "url": detail(incident.pk),
                    "reference": incident.reference,
                    "when": rows.day_month_year_time(incident.occurred_at),
                    "unit": incident.unit_code,
                    "severity": incident.severity,
                    "severity_label": severities[incident.severity],
                    "what": incident.request_type_name,
                    "response": responses[incident.person_response].lower(),
                    # As User.__str__: the full name, or the username without one.
                    "reporter": (
                        f"{incident.reporter_first_name} {incident.reporter_last_name}".strip()
                        or incident.reporter_username
                    ),
                }
                for incident in page.items
            ],
        ),
        "page": page,
        "elsewhere": elsewhere,
        "alerts": alerts_shown,
        "alert_links": rows.join(
            TIMELINE_ALERT_LINK,
            [
                {
                    "url": alert_detail(alert.public_id),
                    "rule": rules[alert.rule].lower(),
                    "status": statuses[alert.status].lower(),
                }
                for alert in alerts_shown
            ],
            sep=", ",
        ),
    }
    return render(request, "incidents/patient_timeline.html", context)


@role_required(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def alert_thresholds(request: HttpRequest) -> HttpResponse:
    thresholds = AlertThresholds.current()
    form = ThresholdsForm(request.POST or None, instance=thresholds)
    if request.method == "POST" and form.is_valid():
        try:
            raised = services.change_thresholds(
                user=request.user, request=request, **form.cleaned_data
            )
        except services.ThresholdsChanged:
            return _thresholds_changed(request, form)
        messages.success(
            request,
            # Sent twice (a double click), the second finds them saved: the first
            # answer's count is the one that holds.
            "Thresholds saved."
            if raised is None
            else "Thresholds saved and applied to recent incidents: "
            + (
                "no new alerts were raised."
                if raised == 0
                else f"{raised} new alert{pluralize(raised)} raised."
            ),
        )
        return redirect("incidents:alert_thresholds")
    return render(request, "incidents/alert_thresholds.html", {"form": form})


def _thresholds_changed(request: HttpRequest, form: ThresholdsForm) -> HttpResponse:
    # Saved meanwhile from another tab or by another manager: say what they are now, and
    # keep the numbers typed, on a page that may now send them over the latest change.
    current = AlertThresholds.current()
    # Worded before the form is checked: checking it copies the numbers typed into it.
    message = (
        "The thresholds were changed (in another tab, or by another manager) after you "
        f"opened this page, so nothing was saved. They are now: {current.repeat_count} "
        f"incidents about one patient within {current.repeat_days} days, and "
        f"{current.staff_count} different staff reporting one patient within "
        f"{current.staff_days} days. Your numbers are kept below: save them again to "
        "apply them."
    )
    data = form.data.copy()
    data["seen"] = current.updated_at.isoformat()
    redrawn = ThresholdsForm(data, instance=current)
    redrawn.is_valid()
    redrawn.add_error(None, message)
    return render(request, "incidents/alert_thresholds.html", {"form": redrawn}, status=409)
