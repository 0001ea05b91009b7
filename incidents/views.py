"""Views for reporters: filing incidents, drafts, and following incidents up."""

from __future__ import annotations

import itertools
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from boundaries import audit
from boundaries.access import STAFF_ROLES, has_role, role_required
from boundaries.models import AuditEvent, Role, Unit
from boundaries.sessions import not_activity
from incidents import drafts, notifications, rows, services
from incidents.forms import AddendumForm, IncidentForm, WitnessFormSet
from incidents.models import (
    Draft,
    Incident,
    IncidentEvent,
    PersonResponse,
    RequestType,
    Severity,
    Status,
)
from incidents.pagination import KeysetPage
from incidents.severity import derive_severity

PAGE_SIZE = 25


def _get_incident_for_user(request: HttpRequest, pk: int) -> Incident:
    """An incident the person may open, or 404 (never a hint that it exists)."""
    return get_object_or_404(
        Incident.objects.visible_to(request.user).select_related(
            "unit",
            "reporter",
            "request_type",
            "channel",
            "patient",
            "supervisor_told",
            "feedback_by",
        ),
        pk=pk,
    )


def _get_draft_for_user(request: HttpRequest, draft_id: uuid.UUID) -> Draft:
    return get_object_or_404(Draft.objects.owned_by(request.user), pk=draft_id)


DRAFTS_PAGE_SIZE = 10


@role_required(*STAFF_ROLES)
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    """The reporter's home: drafts to finish, then their incidents, newest first."""
    incidents = (
        Incident.objects.reported_by(request.user)
        .select_related("request_type")
        .only("occurred_at", "submitted_at", "severity", "status", "request_type__name")
        .annotate(has_feedback=~Q(feedback=""))
    )
    page = KeysetPage.from_request(request, incidents, size=PAGE_SIZE)
    detail = rows.route("incidents:detail")
    severities, statuses = rows.labels(Severity), rows.labels(Status)
    context = {
        "page": page,
        "rows": [
            {
                "url": detail(incident.pk),
                "reference": incident.reference,
                "when": rows.day_month_year_time(incident.occurred_at),
                "what": incident.request_type.name,
                "severity": incident.severity,
                "severity_label": severities[incident.severity],
                "status_label": statuses[incident.status],
                "has_feedback": incident.has_feedback,
            }
            for incident in page.items
        ],
        # The newest ten, and older ones a page at a time: none out of reach.
        "drafts": KeysetPage.from_request(
            request,
            Draft.objects.owned_by(request.user).only("id", "updated_at"),
            size=DRAFTS_PAGE_SIZE,
            keys=("-updated_at", "-id"),
            param="drafts_after",
        ),
        "has_units": Unit.objects.of(request.user).exists(),
    }
    return render(request, "incidents/incident_list.html", context)


@role_required(*STAFF_ROLES)
@require_http_methods(["GET", "POST"])
def incident_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _submit(request)
    if not Unit.objects.of(request.user).exists():
        messages.warning(request, "You are not in a unit yet. Ask an administrator to add you.")
        return redirect("incidents:list")
    form, formset = drafts.forms_for(request.user)
    return _render_form(request, form, formset, token=uuid.uuid4())


@role_required(*STAFF_ROLES)
@require_GET
def draft_edit(request: HttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    # The form's page comes here when the browser brings it back after it was sent:
    # sending it again would file it twice.
    if sent := _sent_already(request, draft_id):
        return sent
    draft = _get_draft_for_user(request, draft_id)
    form, formset = drafts.forms_for(request.user, data=draft.data)
    return _render_form(request, form, formset, token=draft.pk, draft=draft)


def _sent_already(request: HttpRequest, draft_id: uuid.UUID) -> HttpResponse | None:
    """The report a draft became, if it was sent (from another tab, say): where to go
    instead of acting on the draft."""
    filed = Incident.objects.reported_by(request.user).filter(submission_token=draft_id).first()
    if filed is None:
        return None
    messages.info(
        request,
        f"This report was sent already, as {filed.reference}. To report another "
        "incident, start a new report.",
    )
    return redirect("incidents:filed", pk=filed.pk)


# Who a report form was drawn for (signed, in the form), so that what one person typed
# is never saved or filed under whoever signs in next on that browser.
FORM_OWNER_SALT = "incidents.report-form-owner"
ANOTHER_PERSONS_FORM = (
    "This report was started by someone else who was signed in on this browser, so it "
    "was not saved or sent under your name. Ask them to sign in to finish it, or open a "
    "new report."
)


CHANGED_ELSEWHERE = (
    "This report was changed in another tab or window after this page was opened, so "
    "what is on this page was not saved or sent. Open it again from My incidents to "
    "carry on with the latest version (copy anything you typed here first)."
)


def _page(request: HttpRequest) -> services.PageMark | None:
    """Which page of the form sent the request (None for a form drawn without one: not
    checked). See ``Draft.changed_elsewhere``."""

    def page_id(name: str) -> str:
        value = request.POST.get(name, "")
        # Letters and digits as the page draws them, and short: anything else is none.
        return value if value.isalnum() and len(value) <= 32 else ""

    page = page_id("page")
    if not page:
        return None
    revision = request.POST.get("page_revision", "")
    return services.PageMark(
        page=page,
        revision=int(revision) if revision.isdigit() and len(revision) < 10 else None,
        before=page_id("page_before"),
    )


def _form_owner_token(request: HttpRequest) -> str:
    return signing.dumps(request.user.pk, salt=FORM_OWNER_SALT)


def _drawn_for_someone_else(request: HttpRequest) -> bool:
    """Whether the posted form was drawn for another person. A form without the mark
    (sent by a script, or drawn before it existed) is not refused for its absence."""
    mark = request.POST.get("drawn_for", "")
    if not mark:
        return False
    try:
        return signing.loads(mark, salt=FORM_OWNER_SALT) != request.user.pk
    except signing.BadSignature:
        return True


def _submit(request: HttpRequest) -> HttpResponse:
    if _drawn_for_someone_else(request):
        return HttpResponseBadRequest(ANOTHER_PERSONS_FORM)
    try:
        token = uuid.UUID(request.POST.get("submission_token", ""))
    except ValueError:
        return HttpResponseBadRequest("This form is out of date. Open a new report.")
    filed = Incident.objects.filter(submission_token=token).first()
    if filed is not None:
        if filed.reporter_id != request.user.pk:
            return HttpResponseBadRequest("This form is out of date. Open a new report.")
        # Submitted already (double click, back and resubmit, a second tab).
        return redirect("incidents:filed", pk=filed.pk)
    page = _page(request)
    form = IncidentForm(request.POST, user=request.user)
    formset = WitnessFormSet(request.POST, prefix=drafts.WITNESS_PREFIX)
    try:
        if request.POST.get("action") == "save":
            return _save_for_later(request, token, page=page)
        if form.is_valid() and formset.is_valid():
            try:
                incident, _ = services.log_incident(
                    reporter=request.user,
                    token=token,
                    request=request,
                    page=page,
                    **_filing_fields(form, formset),
                )
            except services.SubmissionConflict:
                return HttpResponseBadRequest("This form is out of date. Open a new report.")
            return redirect("incidents:filed", pk=incident.pk)
        # Keep what was typed on the server while the reporter corrects it.
        services.save_draft(
            owner=request.user,
            draft_id=token,
            data=drafts.data_from_post(request.POST),
            page=page,
        )
    except services.DraftChangedElsewhere:
        # Sent from a page drawn before another tab saved the report: shown again, and
        # nothing saved or filed. Still as drawn then (found by a review helper: drawn
        # as after the other tab's save, its next keystroke overwrote that save).
        form.add_error(None, CHANGED_ELSEWHERE)
        return _render_form(request, form, formset, token=token, page=page, status=409)
    return _render_form(request, form, formset, token=token, page=page, status=200)


def _save_for_later(
    request: HttpRequest, token: uuid.UUID, *, page: services.PageMark | None
) -> HttpResponse:
    draft = services.save_draft(
        owner=request.user,
        draft_id=token,
        data=drafts.data_from_post(request.POST),
        page=page,
    )
    if draft is None:
        raise Http404
    messages.success(request, "Saved. Your draft is at the top of this page when you come back.")
    return redirect("incidents:list")


def _filing_fields(form: IncidentForm, formset) -> dict:
    data = form.cleaned_data
    actions = set(data["actions"])
    return {
        "unit": data["unit"],
        "occurred_at": data["occurred_at"],
        "late_reason": data["late_reason"],
        "location": data["location"],
        "other_party": data["other_party"],
        "patient_reference": data["patient_reference"],
        "request_type": data["request_type"],
        "channel": data["channel"],
        "description": data["description"],
        "script_version": data["script_version"],
        "own_words": data["own_words"],
        "person_response": data["person_response"],
        "ended_interaction": "ended_interaction" in actions,
        "called_supervisor": "called_supervisor" in actions,
        "called_security": "called_security" in actions,
        "called_police": "called_police" in actions,
        "supervisor_told": data["supervisor_told"],
        "supervisor_told_at": data["supervisor_told_at"],
        "feels_unsafe": data["feels_unsafe"],
        "wants_debrief": data["wants_debrief"],
        "witnesses": formset.witnesses(),
    }


def _render_form(
    request,
    form,
    formset,
    *,
    token,
    draft=None,
    page: services.PageMark | None = None,
    status=200,
) -> HttpResponse:
    # The grouped drop-down is built only when the form is shown: a filing that passes
    # validation never lists the library.
    form.set_script_choices()
    if status == 409 and page is not None:
        # Refused as drawn before another page saved: shown again as drawn then, so that
        # it stays refused (found by a review helper: drawn afresh, its next keystroke
        # overwrote the other page's work).
        revision = page.revision
    else:
        saved = draft or Draft.objects.filter(pk=token).only("revision").first()
        revision = saved.revision if saved is not None else 0
    context = {
        # This page (a new one, or the same tab's after sending it), and the revision of
        # the draft it shows.
        "page": page.page if page is not None else secrets.token_hex(8),
        "page_revision": revision,
        "form": form,
        "formset": formset,
        "token": token,
        "draft": draft,
        "autosave_url": reverse("incidents:draft_autosave", args=[token]),
        "drawn_for": _form_owner_token(request),
        # Stable for one person (the signed mark above is not): the page script keeps a
        # report to come back to per person, so nobody is sent to another's draft.
        "tab_owner": salted_hmac(
            "incidents.report-tab-owner", str(request.user.pk), algorithm="sha256"
        ).hexdigest()[:16],
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "late_days": settings.BOUNDARIES["LATE_REPORT_DAYS"],
    }
    return render(request, "incidents/incident_form.html", context, status=status)


@require_POST
def draft_autosave(request: HttpRequest, draft_id: uuid.UUID) -> JsonResponse:
    """Called by the form every few seconds while the reporter types. Answers JSON, and
    401 rather than a redirect when the session has ended, so the page can say so."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "signed_out"}, status=401)
    # The refusals below answer a page drawn for someone else (or a form already sent),
    # still saving in the background: not the signed-in person's activity.
    if not has_role(request.user, *STAFF_ROLES):
        audit.record_route_refused(request=request)  # as every other role refusal
        return not_activity(JsonResponse({"error": "not_allowed"}, status=403))
    if _drawn_for_someone_else(request):
        return not_activity(
            JsonResponse({"error": "another_person", "message": ANOTHER_PERSONS_FORM}, status=409)
        )
    data = drafts.data_from_post(request.POST)
    try:
        draft = services.save_draft(
            owner=request.user, draft_id=draft_id, data=data, page=_page(request)
        )
    except services.DraftChangedElsewhere:
        return JsonResponse(
            {"error": "changed_elsewhere", "message": CHANGED_ELSEWHERE}, status=409
        )
    if draft is None:
        return not_activity(JsonResponse({"error": "not_yours_or_filed"}, status=409))
    saved_at = timezone.localtime(draft.updated_at).strftime("%H:%M")
    return JsonResponse({"saved_at": saved_at, "severity": _preview_severity(data)})


def _preview_severity(data: dict[str, list[str]]) -> str:
    """The severity the incident would be filed with, from what is filled in so far
    (the draft's data: the form's fields only, NUL characters taken out)."""

    def first(name: str) -> str:
        return (data.get(name) or [""])[0]

    request_type = RequestType.objects.filter(code=first("request_type")).first()
    if request_type is None or first("person_response") not in PersonResponse.values:
        return ""
    actions = set(data.get("actions", []))
    severity = derive_severity(
        request_type=request_type,
        person_response=first("person_response"),
        called_security="called_security" in actions,
        called_police="called_police" in actions,
        feels_unsafe=bool(first("feels_unsafe")),
    )
    return Severity(severity).label


@role_required(*STAFF_ROLES)
@require_POST
def draft_delete(request: HttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    # Deleted from a list drawn before the report was sent from another tab.
    if sent := _sent_already(request, draft_id):
        return sent
    _get_draft_for_user(request, draft_id).delete()
    messages.info(request, "Draft deleted.")
    return redirect("incidents:list")


@role_required(*STAFF_ROLES)
@require_GET
def incident_filed(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation: the reference, what happens next, and support."""
    incident = get_object_or_404(Incident.objects.reported_by(request.user), pk=pk)
    # Who is told, as the emails choose them: the unit's supervisors but the reporter, or
    # the managers when that leaves nobody (a supervisor's own report, a closed unit).
    told = notifications.told_about(incident)
    # Who reviews it: the unit's supervisors but the reporter (emailed or not), else the
    # managers (``Incident.objects.reviewable_by``).
    reviewers_supervise = any(
        person.pk != incident.reporter_id
        for person in notifications.supervisors_of(incident.unit_id, with_address=False)
    )
    context = {
        "incident": incident,
        "eap_contact": settings.BOUNDARIES["EAP_CONTACT"],
        "told_supervisors": any(person.role == Role.SUPERVISOR for person in told),
        "told_anyone": bool(told),
        "reviewer": "supervisor" if reviewers_supervise else "manager",
    }
    return render(request, "incidents/incident_filed.html", context)


def render_detail(
    request: HttpRequest,
    incident: Incident,
    *,
    addendum_form: AddendumForm | None = None,
    review_form=None,
    status: int = 200,
) -> HttpResponse:
    """The incident page: the record for everyone who may see it, the addendum form for
    its reporter, and the review form and history for its supervisors and managers."""
    from incidents.forms import ReviewForm

    is_reporter = incident.reporter_id == request.user.pk
    if not is_reporter:
        # Every page that shows the record to anyone but its reporter is a read to audit
        # (the review form answered with errors or a conflict shows it too).
        audit.record(
            action=audit.Action.INCIDENT_VIEWED,
            request=request,
            target=incident,
            unit=incident.unit,
        )
    if addendum_form is None and is_reporter:
        addendum_form = AddendumForm()
    can_review = Incident.objects.reviewable_by(request.user).filter(pk=incident.pk).exists()
    context = {
        # A form sent back with mistakes, or a review that met someone else's: the title
        # and the top of this long page say so, not only the foot of it.
        "has_errors": status == 409
        or any(form is not None and form.errors for form in (addendum_form, review_form)),
        "incident": incident,
        "is_reporter": is_reporter,
        "witnesses": incident.witnesses.all(),
        "addenda": incident.addenda.select_related("author"),
        "addendum_form": addendum_form,
        "can_review": can_review,
        "review_form": (review_form or ReviewForm(incident=incident)) if can_review else None,
        "earlier_feedback": _earlier_feedback(incident),
        "events": incident.events.select_related("actor") if can_review else (),
        "audit_events": AuditEvent.objects.for_object(incident) if can_review else (),
    }
    return render(request, "incidents/incident_detail.html", context, status=status)


# How many earlier versions of the feedback the page lists, newest first.
EARLIER_FEEDBACK_SHOWN = 10
# Feedback replaced this soon after it was given is a correction (a typo, the wrong
# report): the supervisors' history keeps it, the reporter's page does not list it.
FEEDBACK_CORRECTION = timedelta(minutes=15)


def _earlier_feedback(incident: Incident) -> list[IncidentEvent]:
    """Feedback the reporter was given before the current words, newest first: changed
    feedback does not silently replace what they were told. Each FEEDBACK event holds
    the words given then (empty when the feedback was taken away)."""
    given = list(
        incident.events.filter(kind=IncidentEvent.Kind.FEEDBACK)
        .select_related("actor")
        .order_by("-created_at", "-id")[: EARLIER_FEEDBACK_SHOWN + 1]
    )
    earlier, listed = [], {incident.feedback, ""}
    for replaced_by, event in itertools.pairwise(given):
        if event.note in listed or replaced_by.created_at - event.created_at < FEEDBACK_CORRECTION:
            continue
        listed.add(event.note)
        earlier.append(event)
    return earlier


@role_required(*STAFF_ROLES)
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render_detail(request, _get_incident_for_user(request, pk))


@role_required(*STAFF_ROLES)
@require_POST
def addendum_add(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.reported_by(request.user), pk=pk)
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            _, added = services.add_addendum(
                incident=incident,
                author=request.user,
                text=form.cleaned_data["text"],
                token=form.cleaned_data["token"],
                request=request,
            )
        except services.SubmissionConflict:
            return HttpResponseBadRequest("This form is out of date. Open the report again.")
        except Incident.DoesNotExist:
            raise Http404 from None
        if added:
            messages.success(request, "Added to your report.")
        return redirect(incident)
    return render_detail(request, incident, addendum_form=form)


@role_required(*STAFF_ROLES)
@require_GET
def signed_in_again(request: HttpRequest) -> HttpResponse:
    """Where the sign-in opened from an expired form lands: go back to the other tab."""
    return render(request, "incidents/signed_in_again.html")
