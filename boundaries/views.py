"""Organisation-wide views: sign-in and its second step, the home redirect, support,
the health check, errors."""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlencode, urlsplit

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from boundaries import audit, two_factor
from boundaries.access import (
    SECOND_FACTOR_SESSION_KEY,
    SIGNING_IN_SESSION_KEY,
    home_url,
    second_factor_pending,
    second_factor_required,
    signing_in_now,
)
from boundaries.forms import (
    CheckedPasswordChangeForm,
    ConfirmedSetUpForm,
    SecondFactorForm,
    SetUpAuthenticatorForm,
    SignInForm,
)
from boundaries.pdf import PdfFailed

logger = logging.getLogger(__name__)


class SignInView(auth_views.LoginView):
    """The password step (django-axes counts the failures). Someone who needs a second
    factor is signed in only as far as the second step: see ``access``."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        # A ``next`` naming this page would send a signed-in person round in a loop
        # (Django answers that with an error): they go to their home page instead.
        url = super().get_success_url()
        return self.get_default_redirect_url() if url == self.request.path else url

    def form_valid(self, form: SignInForm) -> HttpResponse:
        user = form.get_user()
        auth_login(self.request, user)
        if not (second_factor_required(user) or two_factor.has_second_factor(user)):
            audit.record(action=audit.Action.SIGN_IN_SUCCEEDED, actor=user, request=self.request)
            return HttpResponseRedirect(self.get_success_url())
        self.request.session[SECOND_FACTOR_SESSION_KEY] = True
        self.request.session[SIGNING_IN_SESSION_KEY] = True
        audit.record(action=audit.Action.PASSWORD_ACCEPTED, actor=user, request=self.request)
        url = reverse("two_factor")
        if next_url := self.get_redirect_url():
            url = f"{url}?{urlencode({'next': next_url})}"
        return HttpResponseRedirect(url)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with the link in the email built from ``SITE_URL``, never from the
    request's Host header: behind a proxy that passes any host, or with a loose
    ``ALLOWED_HOSTS``, whoever asks for the reset could otherwise choose where the
    link (and its token) points."""

    def form_valid(self, form):
        site = urlsplit(settings.SITE_URL)
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context=self.extra_email_context,
        )
        # Past Django's own form_valid, which would send the email a second time.
        return super(auth_views.PasswordResetView, self).form_valid(form)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, with the current password checked as at sign-in (lockout, failures
    recorded) and the change recorded."""

    form_class = CheckedPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(action=audit.Action.PASSWORD_CHANGED, actor=form.user, request=self.request)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, with the reset recorded, and the sign-in pause for that username lifted:
    following the emailed link proves the person holds the account's email, and the
    lockout page offers the reset as the way out."""

    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        audit.record(action=audit.Action.PASSWORD_RESET, actor=form.user, request=self.request)
        return response


class SignOutView(auth_views.LogoutView):
    """Sign-out (POST only): recorded, then the session is deleted on the server."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            audit.record(action=audit.Action.SIGNED_OUT, actor=request.user, request=request)
        return super().post(request, *args, **kwargs)


def _next_or_home(request: HttpRequest) -> str:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site only: a bare word ("incidents") is relative to the page.
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return home_url(request.user)


def _refusal(attempt: two_factor.Attempt) -> str:
    if attempt.throttled:
        # Each wrong code doubles the wait before the next one is even checked.
        return "Too many wrong codes in a row. Wait a minute, then try the newest code."
    return "That code did not work. Try the newest code from your app, or a backup code."


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second sign-in step: a code from the authenticator app, or a backup code."""
    if not second_factor_pending(request):
        return HttpResponseRedirect(_next_or_home(request))
    if not two_factor.has_second_factor(request.user):
        if second_factor_required(request.user):
            return redirect(
                f"{reverse('two_factor_setup')}?{urlencode({'next': _next_or_home(request)})}"
            )
        # In with the password alone (a reporter whose chosen second factor was reset
        # meanwhile): no longer at the second step, so a need for one later (a role
        # that needs it) finds this session signed in earlier.
        request.session.pop(SECOND_FACTOR_SESSION_KEY, None)
        request.session.pop(SIGNING_IN_SESSION_KEY, None)
        return HttpResponseRedirect(_next_or_home(request))
    form = SecondFactorForm(request.POST or None)
    if form.is_valid():
        attempt = two_factor.verify_second_factor(
            user=request.user, code=form.cleaned_data["code"], request=request
        )
        if attempt.accepted:
            return HttpResponseRedirect(_next_or_home(request))
        form.add_error("code", _refusal(attempt))
    return render(
        request,
        "account/two_factor_verify.html",
        {"form": form, "next": _next_or_home(request), "nav_items": []},
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the key), confirm with a
    code, then see the backup codes, once."""
    user = request.user
    if two_factor.has_second_factor(user) and not user.is_verified():
        # Someone who has a second factor proves it first; never a way round it.
        return redirect(f"{reverse('two_factor')}?{urlencode({'next': _next_or_home(request)})}")
    if two_factor.has_authenticator(user):
        messages.info(request, "Two-factor sign-in is already set up for your account.")
        return HttpResponseRedirect(_next_or_home(request))
    device = two_factor.device_being_set_up(user, request.session)
    if signing_in_now(request):
        # Straight after the password, at sign-in.
        form = SetUpAuthenticatorForm(request.POST or None)
    else:
        form = ConfirmedSetUpForm(request.POST or None, request=request, user=user)
    if form.is_valid():
        result = two_factor.confirm_set_up(
            user=user, device_id=device.pk, code=form.cleaned_data["code"], request=request
        )
        if result.attempt.accepted:
            context = {"codes": result.backup_codes, "next": _next_or_home(request)}
            return render(request, "account/backup_codes.html", context)
        form.add_error("code", _refusal(result.attempt))
    context = {
        "form": form,
        "qr_code": two_factor.qr_code_data_uri(device),
        "secret": two_factor.secret_for_typing(device),
        "required": second_factor_required(user),
        "next": _next_or_home(request),
    }
    if second_factor_pending(request):
        # Its links would only lead back here until the set-up is done.
        context["nav_items"] = []
    return render(request, "account/two_factor_setup.html", context)


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
    elif isinstance(exception, PdfFailed):
        # Logged by Django with its cause; the person is asked to try again.
        response = HttpResponse(render_to_string("503_pdf.html"), status=503)
        response["Retry-After"] = "60"
    else:
        # Rendered without a request context: the failure may be in what it would load.
        response = HttpResponse(render_to_string("500.html"), status=500)
    add_never_cache_headers(response)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with an out-of-date security token: most often a page left open
    while the person signed in or out in another tab. The page says what to do; the
    technical reason is for the log only."""
    # The reason's kind only: some name the referring page's address after " - ".
    logger.info("form refused: %s", reason.split(" - ")[0])
    return render(request, "403_csrf.html", status=403)


@login_required
@require_GET
def support(request: HttpRequest) -> HttpResponse:
    """Debrief and Employee Assistance Programme details, one click from every page."""
    return render(request, "support.html", {"eap_contact": settings.BOUNDARIES["EAP_CONTACT"]})
