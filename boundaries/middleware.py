"""Middleware of the project's own: headers for signed-in pages, and addresses refused."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csp import ContentSecurityPolicyMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.cache import add_never_cache_headers, patch_cache_control


class HealthCheckMiddleware:
    """``/healthz`` answered before anything reads the Host header or redirects to HTTPS:
    a load balancer asks each app server directly, by the server's own address and over
    plain HTTP, neither of which the site's settings allow. It says only whether the
    database answers."""

    PATH = "/healthz"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != self.PATH:
            return self.get_response(request)
        from boundaries.views import healthz

        response = healthz(request)
        # The headers every response carries, from the middleware that adds them
        # elsewhere; only their request-side checks (Host, HTTPS) are left out.
        for middleware in (
            SecurityMiddleware,
            ContentSecurityPolicyMiddleware,
            XFrameOptionsMiddleware,
        ):
            response = middleware(self.get_response).process_response(request, response)
        return response


class NoStoreForSignedInMiddleware:
    """Pages for a signed-in person hold incident details: no cache may keep them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
            patch_cache_control(response, no_store=True, private=True)
        return response


class RefuseNulInQueryMiddleware:
    """A NUL character has no place in any address of this site, and PostgreSQL refuses
    it in every text comparison (a server error wherever a view looks a value up). Only
    a hand-edited address carries one: it gets the 400 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "%00" in request.META.get("QUERY_STRING", ""):
            raise SuspiciousOperation("A NUL character in the query string.")
        return self.get_response(request)
