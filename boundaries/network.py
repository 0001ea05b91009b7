"""The client's network address, as the lockout and the audit trail both see it."""

from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the trusted proxies recorded in X-Forwarded-For.

    Only the last PROXY_COUNT hops are trusted; anything a client put further left in
    the header is ignored, so it cannot pick an address to dodge a lockout.
    """
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.PROXY_COUNT
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ip_address(address))
    except ValueError:
        return ""
