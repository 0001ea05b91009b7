"""Views for reports: the monthly summary and the month's CSV for managers and
supervisors, and a reporter's own evidence log.

Query strings carry only a month (2026-10), a unit's code and dates, never anything
about a patient. Managers choose the organisation or any unit; supervisors only the
units they supervise (anything else is 404, and the organisation scope 403). Every
download is recorded in the audit trail and marked ``Cache-Control: no-store``.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET

from boundaries import audit
from boundaries.access import REVIEW_ROLES, STAFF_ROLES, role_required
from boundaries.models import Role, Unit
from incidents import exports, local_time, reports, widgets
from incidents.reports import MalformedMonth, Month, Scope, TooManyIncidents


class EvidenceRangeForm(forms.Form):
    """The evidence log's dates: both empty for everything, either one for an open
    range. The fields are named ``from`` and ``to``, as in the download's address."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        widget = widgets.DateInput()
        for name, label in (("from", "From"), ("to", "To")):
            self.fields[name] = forms.DateField(
                label=label,
                required=False,
                widget=widget,
                validators=[local_time.not_too_early, _not_after_today],
            )
        self.fields["from"].help_text = "The first day to include. Empty: from the start."
        self.fields["to"].help_text = "The last day to include. Empty: up to today."

    def clean(self) -> dict:
        data = super().clean()
        first, last = data.get("from"), data.get("to")
        if first and last and last < first:
            # On the field, so that the page's error summary links to it.
            self.add_error(
                "to",
                forms.ValidationError(
                    "The last day comes before the first. Check the dates.", code="reversed"
                ),
            )
        return data


def _not_after_today(value) -> None:
    if value > timezone.localdate():
        raise forms.ValidationError(
            "That date is still to come: give today or an earlier day.", code="future"
        )


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    # File names hold only a month, a unit code or dates: capitals, digits, hyphens.
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _no_store(response)


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    context = {"message": message, "back_url": reverse("incidents:reports")}
    return render(request, "incidents/reports/bad_request.html", context, status=400)


def _month(request: HttpRequest) -> Month:
    """The month asked for, last month by default; MalformedMonth otherwise."""
    value = request.GET.get("month", "").strip()
    return Month.parse(value) if value else Month.last_completed()


def _reportable_units(user) -> QuerySet[Unit]:
    """The units a person may report on: every unit for managers, closed ones included
    (their past months stay reportable, as from ``manage.py monthly_report``); a
    supervisor's own active units."""
    if user.role == Role.MANAGER:
        return Unit.objects.order_by("-is_active", "name")
    return Unit.objects.supervised_by(user)


def _unit_asked_for(request: HttpRequest) -> Unit | None:
    """The unit named by ``?unit=`` (its code, in any case: codes are stored in
    capitals), 404 unless the person may report on it; None when none is named."""
    code = request.GET.get("unit", "").strip()
    if not code:
        return None
    # ASCII letters only: str.upper() turns some other letters into capitals ("ß" into
    # "SS"), which would name a unit nobody typed.
    canonical = code.upper() if code.isascii() else code
    return get_object_or_404(_reportable_units(request.user), code=canonical)


def _scope_for_download(request: HttpRequest) -> Scope:
    """The unit asked for (404 unless the person supervises it, or is a manager), or
    the whole organisation (managers only)."""
    unit = _unit_asked_for(request)
    if unit is not None:
        return Scope(unit)
    if request.user.role != Role.MANAGER:
        audit.record_route_refused(request=request)
        raise PermissionDenied
    return Scope(None)


def _page_scope(request: HttpRequest, units: list[Unit]) -> Scope:
    """The page's scope: the unit asked for (404 unless visible), else the organisation
    for managers and a supervisor's first unit."""
    unit = _unit_asked_for(request)
    if unit is not None:
        return Scope(unit)
    if request.user.role == Role.MANAGER or not units:
        return Scope(None)
    return Scope(units[0])


def _summary_context(request: HttpRequest, month: Month, scope: Scope) -> dict:
    summary = reports.monthly_summary(
        month=month,
        unit=scope.unit,
        generated_by=reports.generated_by_person(request.user),
        reader_id=request.user.pk,
    )
    following, preceding = month.shifted(1), month.shifted(-1)
    return {
        "summary": summary,
        "figures": summary.figures,
        "pdf_url": f"{reverse('incidents:report_pdf')}?{reports.report_query(month, scope)}",
        "csv_url": f"{reverse('incidents:report_csv')}?{reports.report_query(month, scope)}",
        # None before the first month reports cover (its page would be a 400).
        "previous_url": f"?{reports.report_query(preceding, scope)}"
        if preceding.year >= reports.EARLIEST_YEAR
        else "",
        "next_url": f"?{reports.report_query(following, scope)}"
        if following <= Month.containing(timezone.now())
        else "",
    }


@role_required(*REVIEW_ROLES)
@require_GET
def report_index(request: HttpRequest) -> HttpResponse:
    """Choose a month and a scope; see its key figures; download the PDF or the CSV."""
    units = list(_reportable_units(request.user))
    is_manager = request.user.role == Role.MANAGER
    scope = _page_scope(request, units)
    context = {
        "units": units,
        "is_manager": is_manager,
        "scope": scope,
        # Drawn back only if it is a month HTML allows (what a browser without a month
        # picker lets anyone type is quoted in the message instead).
        "month_value": widgets.html_value(request.GET.get("month", "").strip(), ("%Y-%m",)) or "",
        "latest_month": Month.containing(timezone.now()),
    }
    try:
        month = _month(request)
    except MalformedMonth as error:
        typed = request.GET.get("month", "").strip()
        quoted = f"You typed “{typed[:20]}”. " if not context["month_value"] else ""
        context["month_error"] = f"{quoted}{error}"
        return render(request, "incidents/reports/report_index.html", context, status=400)
    context.update(month=month, month_value=str(month))
    # A supervisor of no unit yet has nothing to see; nobody else reaches the organisation.
    if not (scope.is_organisation and not is_manager):
        context.update(_summary_context(request, month, scope))
    return render(request, "incidents/reports/report_index.html", context)


@role_required(*REVIEW_ROLES)
@require_GET
def report_pdf(request: HttpRequest) -> HttpResponse:
    """The monthly summary as a PDF download."""
    try:
        month = _month(request)
    except MalformedMonth as error:
        return _bad_request(request, str(error))
    scope = _scope_for_download(request)
    summary = reports.monthly_summary(
        month=month,
        unit=scope.unit,
        generated_by=reports.generated_by_person(request.user),
        reader_id=request.user.pk,
    )
    pdf = reports.render_monthly_summary(summary, request=request)
    audit.record(
        action=audit.Action.REPORT_EXPORTED,
        request=request,
        unit=scope.unit,
        about=("month", str(month)),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    return _attachment(response, summary.filename)


@role_required(*REVIEW_ROLES)
@require_GET
def report_csv(request: HttpRequest) -> HttpResponse:
    """The month's incidents as CSV. ``details=1`` adds descriptions, words used,
    locations and patient references: for supervisors, and only for their own units."""
    try:
        month = _month(request)
    except MalformedMonth as error:
        return _bad_request(request, str(error))
    scope = _scope_for_download(request)
    include_details = request.GET.get("details") == "1"
    if include_details and (request.user.role != Role.SUPERVISOR or scope.unit is None):
        audit.record_route_refused(request=request)
        raise PermissionDenied
    # A file with patient references is told apart from one of counts and categories.
    audit.record(
        action=audit.Action.CSV_DETAILS_EXPORTED if include_details else audit.Action.CSV_EXPORTED,
        request=request,
        unit=scope.unit,
        about=("month", str(month)),
    )
    incidents = scope.incidents().in_period(month.start, month.end)
    response = StreamingHttpResponse(
        exports.csv_lines(incidents, include_details=include_details, exporter_id=request.user.pk),
        content_type="text/csv; charset=utf-8",
    )
    return _attachment(response, reports.incidents_filename(month, scope))


@role_required(*STAFF_ROLES)
@require_GET
def evidence(request: HttpRequest) -> HttpResponse:
    """Where a reporter chooses the dates of their evidence log."""
    context = {"form": EvidenceRangeForm(), "limit": reports.EVIDENCE_LOG_LIMIT}
    return render(request, "incidents/reports/evidence.html", context)


@role_required(*STAFF_ROLES)
@require_GET
def evidence_pdf(request: HttpRequest) -> HttpResponse:
    """The reporter's own incidents, with everything said and done, as a PDF."""
    form = EvidenceRangeForm(request.GET)
    context = {"form": form, "limit": reports.EVIDENCE_LOG_LIMIT}
    if not form.is_valid():
        return render(request, "incidents/reports/evidence.html", context, status=400)
    try:
        log = reports.evidence_log(
            reporter=request.user,
            first_day=form.cleaned_data["from"],
            last_day=form.cleaned_data["to"],
        )
    except TooManyIncidents as error:
        held = (
            f"{error.count_at_least} of your incidents, with more writing than one evidence "
            "log can hold"
            if error.too_much_text
            else f"more than {reports.EVIDENCE_LOG_LIMIT} of your incidents, more than one "
            "evidence log can list"
        )
        form.add_error(
            "from",
            f"Those dates hold {held}. Choose a shorter range of dates, and download the "
            "rest as a second log.",
        )
        return render(request, "incidents/reports/evidence.html", context, status=400)
    pdf = reports.render_evidence_log(log, request=request)
    audit.record(action=audit.Action.EVIDENCE_EXPORTED, request=request)
    return _attachment(HttpResponse(pdf, content_type="application/pdf"), log.filename)
