"""A small HTTP client that signs in the way a browser does: the sign-in form with its
CSRF token, then the two-factor step with a code computed from the person's device."""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Browser:
    """One person's cookies against one server. Not thread-safe: one per thread."""

    base_url: str
    timeout: float = 30
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, data: dict | list | None = None) -> Response:
        parts = urlsplit(self.base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        headers = {"Host": parts.netloc}
        if self.cookies:
            headers["Cookie"] = self.cookie_header
        body = None
        if data is not None:
            body = urlencode(data, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            content = raw.read().decode("utf-8", "replace")
            for header in raw.headers.get_all("Set-Cookie") or []:
                cookie = SimpleCookie()
                cookie.load(header)
                for name, morsel in cookie.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            headers_out = {name.lower(): value for name, value in raw.getheaders()}
            return Response(raw.status, headers_out, content)
        finally:
            connection.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict | list) -> Response:
        return self.request("POST", path, data)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def form_token(self, path: str) -> str:
        """The CSRF token of the form on the page at ``path``."""
        page = self.get(path)
        match = _CSRF_INPUT.search(page.body)
        if page.status != 200 or match is None:
            raise RuntimeError(f"no form at {path}: {page.status}")
        return match[1]

    def sign_in(self, username: str, password: str, totp_key: bytes | None = None) -> None:
        """Sign in with the password and, for roles that need it, a TOTP code."""
        token = self.form_token("/accounts/login/")
        answer = self.post(
            "/accounts/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": token},
        )
        if answer.status != 302:
            raise RuntimeError(f"sign-in of {username} refused ({answer.status})")
        if "/accounts/two-factor/" in answer.location:
            if totp_key is None:
                raise RuntimeError(f"{username} needs a second factor")
            token = self.form_token("/accounts/two-factor/")
            answer = self.post(
                "/accounts/two-factor/",
                {"code": totp_code(totp_key), "csrfmiddlewaretoken": token},
            )
            if answer.status != 302:
                raise RuntimeError(f"second step of {username} refused ({answer.status})")


def totp_code(key: bytes) -> str:
    """The current code of a TOTP device with django-otp's defaults (30 s, 6 digits)."""
    from django_otp.oath import TOTP

    totp = TOTP(key, step=30, t0=0, digits=6, drift=0)
    totp.time = time.time()
    return f"{totp.token():06d}"
