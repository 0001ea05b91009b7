"""The library's pages: finding words (every member of staff) and looking after the
library (people who may draft; managers who approve)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from boundaries import audit
from boundaries.access import STAFF_ROLES, role_required
from boundaries.models import Role, Unit, User
from boundaries.pdf import render_pdf
from incidents import patient_refs
from incidents.models import Channel, RequestType
from scripts_library import services
from scripts_library.forms import RejectForm, ScriptForm, SearchForm
from scripts_library.models import (
    Category,
    Script,
    ScriptQuerySet,
    ScriptStatus,
    ScriptVersion,
    VersionState,
)
from scripts_library.permissions import (
    APPROVING_ROLES,
    DRAFTING_ROLES,
    may_approve,
    may_draft,
    may_manage,
)

# Counting a situation's or category's offered scripts (kept in step with offered()).
_OFFERED = Q(scripts__status=ScriptStatus.APPROVED) & Q(
    scripts__current_version__state=VersionState.APPROVED
)


def _allowed_if(check: Callable) -> Callable:
    """403 unless ``check(user)``: the library's permissions, on top of the role. A
    refusal is recorded in the audit trail, as ``role_required`` records its own."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not check(request.user):
                audit.record_route_refused(request=request)
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _situation(code: str) -> RequestType:
    return get_object_or_404(RequestType.objects.active(), code=code)


def _offered_scripts() -> ScriptQuerySet:
    return Script.objects.offered().select_related("current_version", "category")


# --- Finding words ---------------------------------------------------------------------


@role_required(*STAFF_ROLES)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    situations = RequestType.objects.active().annotate(offered=Count("scripts", filter=_OFFERED))
    categories = Category.objects.annotate(offered=Count("scripts", filter=_OFFERED))
    context = {
        "situations": situations,
        "categories": categories,
        "search_form": SearchForm(),
        "may_manage": may_manage(request.user),
    }
    return render(request, "scripts_library/index.html", context)


@role_required(*STAFF_ROLES)
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    if query and patient_refs.looks_like_reference(query):
        # Searched for, it would stay in the address bar, the history and the page: the
        # library needs no patient, so it is neither searched for nor shown again.
        messages.warning(
            request,
            f"That looks like a patient reference ({patient_refs.label()}), which the "
            "library has no use for: it was not searched for. Search for what was asked "
            "or said, for example “gift”.",
        )
        return redirect("scripts_library:search")
    scripts = (
        _offered_scripts().search(query).prefetch_related("request_types")[:50] if query else []
    )
    context = {"search_form": form, "query": query, "scripts": scripts}
    return render(request, "scripts_library/search.html", context)


@role_required(*STAFF_ROLES)
@require_GET
def situation(request: HttpRequest, code: str) -> HttpResponse:
    request_type = _situation(code)
    ladder = services.ladder_for(request_type)
    context = {
        "situation": request_type,
        "ladder": ladder,
        "has_words": any(step.scripts for step in ladder),
    }
    return render(request, "scripts_library/situation.html", context)


@role_required(*STAFF_ROLES)
@require_GET
def suggestions(request: HttpRequest, code: str) -> HttpResponse:
    """The ladder as an HTML fragment for the incident form, with a "Use these words"
    button per script. ``?channel=<code>`` narrows it to scripts that fit the channel."""
    request_type = _situation(code)
    channel = Channel.objects.active().filter(code=request.GET.get("channel", "")).first()
    context = {
        "situation": request_type,
        "ladder": services.ladder_for(request_type, channel=channel),
        "ladder_mode": "use",
        "ladder_heading": "h3",
        "card_heading": "h4",
        "id_prefix": "suggested",
    }
    return render(request, "scripts_library/_ladder.html", context)


@role_required(*STAFF_ROLES)
@require_GET
def pocket_card(request: HttpRequest, code: str) -> HttpResponse:
    """A one-page card of the situation's ladder, to print and keep in a pocket."""
    request_type = _situation(code)
    ladder = services.ladder_for(request_type)
    context = {
        "situation": request_type,
        "ladder": ladder,
        "has_words": any(step.scripts for step in ladder),
    }
    pdf = render_pdf(
        "scripts_library/pocket_card.html",
        context,
        request=request,
        title=f"What to say: {request_type.name}",
        author=settings.BOUNDARIES["ORGANISATION_NAME"],
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="pocket-card-{request_type.code}.pdf"'
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


@role_required(*STAFF_ROLES)
@require_GET
def category(request: HttpRequest, code: str) -> HttpResponse:
    approach = get_object_or_404(Category, code=code)
    scripts = (
        _offered_scripts()
        .in_category(approach)
        .prefetch_related("request_types")
        .in_ladder_order()
    )
    context = {"category": approach, "scripts": scripts}
    return render(request, "scripts_library/category.html", context)


@role_required(*STAFF_ROLES)
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    script = get_object_or_404(_offered_scripts().prefetch_related("request_types"), pk=pk)
    siblings = _offered_scripts().sharing_a_situation_with(script).in_ladder_order()
    context = {
        "script": script,
        "version": script.current_version,
        "ladder": services.as_ladder(siblings),
        "may_manage": may_manage(request.user),
    }
    return render(request, "scripts_library/script_detail.html", context)


# --- Looking after the library ----------------------------------------------------------

drafter_required = _allowed_if(may_draft)
approver_required = _allowed_if(may_approve)
manager_required = _allowed_if(may_manage)


@role_required(*DRAFTING_ROLES)
@manager_required
@require_GET
def manage(request: HttpRequest) -> HttpResponse:
    """Everything in the library by where it stands, with how often each was used."""
    versions = ScriptVersion.objects.manageable_by(request.user).select_related("author")
    scripts = Script.objects.manageable_by(request.user).select_related("current_version")
    # From the running counts: counting every incident ever filed grew with the table
    # (0.6 s a view for a manager over a million incidents).
    usage = services.usage_in_units(_usage_units(request.user))
    approved = scripts.filter(status=ScriptStatus.APPROVED).order_by("current_version__title")
    context = {
        "proposed": versions.filter(state=VersionState.PROPOSED).order_by("proposed_at"),
        "drafts": versions.filter(state=VersionState.DRAFT).order_by("-created_at"),
        "sent_back": versions.sent_back().select_related("decided_by").order_by("-decided_at"),
        "approved": [(script, usage.get(script.pk)) for script in approved],
        "retired": scripts.filter(status=ScriptStatus.RETIRED),
        "may_approve": may_approve(request.user),
        "may_draft": may_draft(request.user),
    }
    return render(request, "scripts_library/manage.html", context)


def _usage_units(user: User) -> list[int] | None:
    """Whose use of the scripts the overview counts: every unit's for a manager (closed
    units included, as in the organisation's reports), the units a supervisor
    supervises."""
    if user.role == Role.MANAGER:
        return None
    return Unit.objects.ids_supervised_by(user)


def _manageable_script(request: HttpRequest, pk: int) -> Script:
    return get_object_or_404(
        Script.objects.manageable_by(request.user).select_related("current_version", "category"),
        pk=pk,
    )


def _manageable_version(request: HttpRequest, pk: int) -> ScriptVersion:
    return get_object_or_404(
        ScriptVersion.objects.manageable_by(request.user).select_related("script"), pk=pk
    )


def _render_manage_detail(
    request: HttpRequest, script: Script, *, reject_form: RejectForm | None = None
) -> HttpResponse:
    versions = list(
        script.versions.select_related("author", "decided_by", "category").prefetch_related(
            "request_types", "channels"
        )
    )
    pending = next((v for v in versions if v.is_pending), None)
    wrote_pending = pending is not None and (
        pending.author_id == request.user.pk or pending.writers.filter(pk=request.user.pk).exists()
    )
    context = {
        "script": script,
        "versions": versions,
        "pending": pending,
        # Named by its words' title, even with none approved or pending (sent back).
        "latest": max(versions, key=lambda version: version.number, default=None),
        "wrote_pending": wrote_pending,
        # What the proposal form carries: the draft's words as this page shows them.
        "pending_mark": services.edit_mark(pending) if pending is not None else "",
        "may_approve": may_approve(request.user),
        "may_draft": may_draft(request.user),
        "reject_form": reject_form or RejectForm(),
    }
    return render(request, "scripts_library/manage_detail.html", context)


@role_required(*DRAFTING_ROLES)
@manager_required
@require_GET
def manage_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_manage_detail(request, _manageable_script(request, pk))


@role_required(*DRAFTING_ROLES)
@drafter_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    form = ScriptForm(request.POST or None)
    # The form's one-use token (a double click makes one script); a new one when absent.
    try:
        token = uuid.UUID(request.POST.get("token", ""))
    except ValueError:
        token = uuid.uuid4()
    if request.method == "POST" and form.is_valid():
        script = services.draft_script(
            author=request.user, token=token, request=request, **form.cleaned_data
        )
        messages.success(request, "Draft saved. Propose it for approval when it is ready.")
        return redirect("scripts_library:manage_detail", script.pk)
    context = {"form": form, "script": None, "token": token}
    return render(request, "scripts_library/script_form.html", context)


@role_required(*DRAFTING_ROLES)
@drafter_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Write the next version. Reporters keep the approved words until it is approved."""
    script = _manageable_script(request, pk)
    latest = services.edit_base(script)
    form = ScriptForm(request.POST or None, initial=ScriptForm.initial_from(latest))
    # The words the page was drawn from: kept while it is sent back with mistakes, so
    # that correcting them does not pass it off as having seen a colleague's draft.
    seen = request.POST.get("seen", "")[:64] or None
    changed = False
    if request.method == "POST" and form.is_valid():
        try:
            services.edit_script(
                editor=request.user, script=script, seen=seen, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            # Drawn again with the words as they are now, what was typed kept.
            form.add_error(None, error)
            latest, seen, changed = services.edit_base(script), None, True
        else:
            messages.success(request, "Draft saved. Propose it for approval when it is ready.")
            return redirect("scripts_library:manage_detail", script.pk)
    context = {
        "form": form,
        "script": script,
        "pending": latest.is_pending,
        "seen": seen or services.edit_mark(latest),
        "changed_to": latest if changed else None,
    }
    return render(
        request, "scripts_library/script_form.html", context, status=409 if changed else 200
    )


def _decide(request: HttpRequest, action: Callable[[], object], success: str) -> None:
    """Run a service; its refusal (a rule, not a fault) becomes a message on the page."""
    try:
        action()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)


@role_required(*DRAFTING_ROLES)
@drafter_required
@require_POST
def propose(request: HttpRequest, pk: int) -> HttpResponse:
    version = _manageable_version(request, pk)
    _decide(
        request,
        lambda: services.propose_version(
            proposer=request.user,
            version=version,
            seen=request.POST.get("seen", "")[:64] or None,
            request=request,
        ),
        "Proposed. A manager who approves scripts will review it.",
    )
    return redirect("scripts_library:manage_detail", version.script_id)


@role_required(*APPROVING_ROLES)
@approver_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    version = _manageable_version(request, pk)
    _decide(
        request,
        lambda: services.approve_version(
            approver=request.user,
            version=version,
            seen=request.POST.get("proposed", ""),
            request=request,
        ),
        "Approved. Staff now see these words.",
    )
    return redirect("scripts_library:manage_detail", version.script_id)


@role_required(*APPROVING_ROLES)
@approver_required
@require_POST
def send_back(request: HttpRequest, pk: int) -> HttpResponse:
    version = _manageable_version(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        script = _manageable_script(request, version.script_id)
        return _render_manage_detail(request, script, reject_form=form)
    try:
        services.reject_version(
            approver=request.user,
            version=version,
            note=form.cleaned_data["note"],
            seen=request.POST.get("proposed", ""),
            request=request,
        )
    except ValidationError as error:
        # Refused (the words changed meanwhile, or were decided): the page as it is now,
        # with the note still in its box to send again or copy.
        messages.error(request, " ".join(error.messages))
        script = _manageable_script(request, version.script_id)
        return _render_manage_detail(request, script, reject_form=form)
    messages.success(request, "Sent back to the author with your note.")
    return redirect("scripts_library:manage_detail", version.script_id)


@role_required(*APPROVING_ROLES)
@approver_required
@require_http_methods(["GET", "POST"])
def retire(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then retire: staff stop seeing the script; past incidents keep its words."""
    script = _manageable_script(request, pk)
    if request.method == "POST":
        _decide(
            request,
            lambda: services.retire_script(approver=request.user, script=script, request=request),
            "Retired. Staff no longer see this script.",
        )
        return redirect("scripts_library:manage_detail", script.pk)
    return render(request, "scripts_library/script_confirm_retire.html", {"script": script})
