"""The role matrix: every route in the URLconf, for every persona, for GET and POST.

The table below is the access policy written out. Each line is one request (a method,
sometimes with a query string) to one route, and what each persona gets:

    200, 400, 401, 403, 404, 405, 409   that status
    login                               a redirect to the sign-in page
    302                                 any other redirect (the action was done, or the
                                        person is sent on to their own page)

The routes are read from the URLconf, never from this file: a route with no line here
fails (so no new page ships without saying who may open it), and so does a line whose
route is gone. POSTs carry data that is valid for a person who may act, so a 302 there
means it was done; every request runs in a savepoint that is rolled back, so each starts
from the same world.

Whatever the status, a person who may not see ward A's incident never receives anything
of it: its reference, description, witness, addendum, patient reference, draft, or the
ids of its alert and patient. Every response to a signed-in person says ``no-store``.

The admin site is for administrators only; its routes are listed by model at the end and
checked as a group.
"""

from __future__ import annotations

import copy
import functools
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.test.client import ClientHandler
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.oath import TOTP

from boundaries import two_factor
from boundaries.demo import SCRIPT_APPROVERS, SCRIPT_EDITORS
from incidents.models import Addendum, Alert, Draft, RequestType
from scripts_library.services import draft_script, propose_version
from tests.conftest import client_for
from tests.factories import (
    TEST_PASSWORD,
    IncidentFactory,
    PatientFactory,
    ScriptFactory,
    WitnessFactory,
    repeat_alert_on,
    script_category,
)
from tests.incidents.conftest import incident_post

PERSONAS = (
    "anonymous",
    "nurse",  # a reporter on ward A, who filed ward A's incident
    "nurse2",  # a reporter on ward B
    "supervisor",  # supervises ward A; may draft scripts ("Script editors")
    "supervisor2",  # supervises ward B; was never given a library permission
    "manager",  # sees every unit; approves scripts ("Script approvers")
    "administrator",  # manages people and units in the admin site
    "deactivated",  # a reporter on ward A whose account was switched off
)

# Persons who may not see ward A's incident, its alert or its patient.
STRANGERS = {"anonymous", "nurse2", "supervisor2", "administrator", "deactivated"}

TABLE = """
# route, request                               anon  nurse nurs2 sup   sup2  mgr   admin gone

# Open to everyone: the health check and the ways in.
healthz GET                                    200   200   200   200   200   200   200   200
healthz POST                                   405   405   405   405   405   405   405   405
login GET                                      200   302   302   302   302   302   302   200
login POST                                     302   302   302   302   302   302   302   302
password_reset GET                             200   200   200   200   200   200   200   200
password_reset POST                            302   302   302   302   302   302   302   302
password_reset_done GET                        200   200   200   200   200   200   200   200
password_reset_done POST                       405   405   405   405   405   405   405   405
password_reset_confirm GET                     200   200   200   200   200   200   200   200
password_reset_confirm POST                    200   200   200   200   200   200   200   200
password_reset_complete GET                    200   200   200   200   200   200   200   200
password_reset_complete POST                   405   405   405   405   405   405   405   405

# Signing out is a POST; a deactivated person is already signed out.
logout GET                                     405   405   405   405   405   405   405   405
logout POST                                    login login login login login login login login

# The second step: for people signed in who still owe it. Everyone here has passed it
# (or needs none), so they are sent on. Reporters may set one up; the others have one.
two_factor GET                                 login 302   302   302   302   302   302   login
two_factor POST                                login 302   302   302   302   302   302   login
two_factor_setup GET                           login 200   200   302   302   302   302   login
two_factor_setup POST                          login 200   200   302   302   302   302   login

# Anyone signed in: their own password, the home redirect, support.
password_change GET                            login 200   200   200   200   200   200   login
password_change POST                           login 302   302   302   302   302   302   login
password_change_done GET                       login 200   200   200   200   200   200   login
password_change_done POST                      login 405   405   405   405   405   405   login
home GET                                       login 302   302   302   302   302   302   login
home POST                                      login 405   405   405   405   405   405   login
support GET                                    login 200   200   200   200   200   200   login
support POST                                   login 405   405   405   405   405   405   login

# Filing: every clinical role files in their own units. Administrators do not file.
incidents:list GET                             login 200   200   200   200   200   403   login
incidents:list POST                            login 405   405   405   405   405   403   login
incidents:new GET                              login 200   200   200   200   200   403   login
incidents:new POST                             login 302   302   302   302   302   403   login
incidents:signed_in_again GET                  login 200   200   200   200   200   403   login
incidents:signed_in_again POST                 login 405   405   405   405   405   403   login

# A draft is its author's alone: to anyone else it does not exist. Autosave answers JSON:
# 401 when signed out, 409 for a draft that is not yours.
incidents:draft GET                            login 200   404   404   404   404   403   login
incidents:draft POST                           login 405   405   405   405   405   403   login
incidents:draft_autosave GET                   405   405   405   405   405   405   405   405
incidents:draft_autosave POST                  401   200   409   409   409   409   403   401
incidents:draft_delete GET                     login 405   405   405   405   405   403   login
incidents:draft_delete POST                    login 302   404   404   404   404   403   login

# An incident: its reporter, its unit's supervisor and managers may read it; to everyone
# else it does not exist. Only the reporter adds to it, and sees the "filed" page.
incidents:detail GET                           login 200   404   200   404   200   403   login
incidents:detail POST                          login 405   405   405   405   405   403   login
incidents:filed GET                            login 200   404   404   404   404   403   login
incidents:filed POST                           login 405   405   405   405   405   403   login
incidents:addendum_add GET                     login 405   405   405   405   405   403   login
incidents:addendum_add POST                    login 302   404   404   404   404   403   login

# A reporter's own evidence log: each person's own incidents only.
incidents:evidence GET                         login 200   200   200   200   200   403   login
incidents:evidence POST                        login 405   405   405   405   405   403   login
incidents:evidence_pdf GET                     login 200   200   200   200   200   403   login
incidents:evidence_pdf POST                    login 405   405   405   405   405   403   login

# Review: supervisors and managers. A supervisor reviews only their own units.
incidents:review GET                           login 403   403   405   405   405   403   login
incidents:review POST                          login 403   403   302   404   302   403   login
incidents:review_queue GET                     login 403   403   200   200   200   403   login
incidents:review_queue POST                    login 403   403   405   405   405   403   login

# Alerts: supervisors see those involving their units, managers all; thresholds are
# the managers'. A patient's timeline only for someone who sees one of their incidents.
incidents:alert_list GET                       login 403   403   200   200   200   403   login
incidents:alert_list POST                      login 403   403   405   405   405   403   login
incidents:alert_detail GET                     login 403   403   200   404   200   403   login
incidents:alert_detail POST                    login 403   403   405   405   405   403   login
incidents:alert_acknowledge GET                login 403   403   405   405   405   403   login
incidents:alert_acknowledge POST               login 403   403   302   404   302   403   login
incidents:alert_resolve GET                    login 403   403   405   405   405   403   login
incidents:alert_resolve POST                   login 403   403   302   404   302   403   login
incidents:alert_thresholds GET                 login 403   403   403   403   200   403   login
incidents:alert_thresholds POST                login 403   403   403   403   302   403   login
incidents:patient_timeline GET                 login 403   403   200   404   200   403   login
incidents:patient_timeline POST                login 403   403   405   405   405   403   login

# Reports: supervisors for their own units, managers for any unit or the organisation.
# Details (descriptions, patient references) only to a unit's own supervisors.
incidents:reports GET                          login 403   403   200   200   200   403   login
incidents:reports GET?unit=WARD-A              login 403   403   200   404   200   403   login
incidents:reports POST                         login 403   403   405   405   405   403   login
incidents:report_pdf GET                       login 403   403   403   403   200   403   login
incidents:report_pdf GET?unit=WARD-A           login 403   403   200   404   200   403   login
incidents:report_pdf POST                      login 403   403   405   405   405   403   login
incidents:report_csv GET                       login 403   403   403   403   200   403   login
incidents:report_csv GET?unit=WARD-A           login 403   403   200   404   200   403   login
incidents:report_csv GET?unit=WARD-A&details=1 login 403   403   200   404   403   403   login
incidents:report_csv POST                      login 403   403   405   405   405   403   login

# The script library: every clinical role finds words in it.
scripts_library:index GET                      login 200   200   200   200   200   403   login
scripts_library:index POST                     login 405   405   405   405   405   403   login
scripts_library:search GET?q=number            login 200   200   200   200   200   403   login
scripts_library:search POST                    login 405   405   405   405   405   403   login
scripts_library:situation GET                  login 200   200   200   200   200   403   login
scripts_library:situation POST                 login 405   405   405   405   405   403   login
scripts_library:card GET                       login 200   200   200   200   200   403   login
scripts_library:card POST                      login 405   405   405   405   405   403   login
scripts_library:suggestions GET                login 200   200   200   200   200   403   login
scripts_library:suggestions POST               login 405   405   405   405   405   403   login
scripts_library:category GET                   login 200   200   200   200   200   403   login
scripts_library:category POST                  login 405   405   405   405   405   403   login
scripts_library:detail GET                     login 200   200   200   200   200   403   login
scripts_library:detail POST                    login 405   405   405   405   405   403   login

# Looking after the library: supervisors and managers who were given the permission
# draft and propose; managers who approve decide and retire.
scripts_library:manage GET                     login 403   403   200   403   200   403   login
scripts_library:manage POST                    login 403   403   405   403   405   403   login
scripts_library:create GET                     login 403   403   200   403   200   403   login
scripts_library:create POST                    login 403   403   302   403   302   403   login
scripts_library:manage_detail GET              login 403   403   200   403   200   403   login
scripts_library:manage_detail POST             login 403   403   405   403   405   403   login
scripts_library:edit GET                       login 403   403   200   403   200   403   login
scripts_library:edit POST                      login 403   403   302   403   302   403   login
scripts_library:propose GET                    login 403   403   405   403   405   403   login
scripts_library:propose POST                   login 403   403   302   403   302   403   login
scripts_library:approve GET                    login 403   403   403   403   405   403   login
scripts_library:approve POST                   login 403   403   403   403   302   403   login
scripts_library:send_back GET                  login 403   403   403   403   405   403   login
scripts_library:send_back POST                 login 403   403   403   403   302   403   login
scripts_library:retire GET                     login 403   403   403   403   200   403   login
scripts_library:retire POST                    login 403   403   403   403   302   403   login
"""

# The admin site: administrators manage these models there. Every other persona is
# turned away from every admin route (sent to sign in, or refused), whatever the method.
ADMIN_MODELS = {
    "auth.group",
    "boundaries.user",
    "boundaries.unit",
    "boundaries.auditevent",
    "incidents.requesttype",
    "incidents.channel",
    "incidents.queuedemail",
    "scripts_library.category",
    "scripts_library.script",
    "scripts_library.scriptversion",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}
ADMIN_SITE_ROUTES = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:autocomplete",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:app_list",
    "admin:auth_user_password_change",
    "admin (catch-all)",
}
ADMIN_MODEL_VIEWS = ("changelist", "add", "history", "delete", "change")


# --- The table, parsed --------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    route: str
    method: str
    query: str
    expected: dict[str, str]

    @property
    def label(self) -> str:
        return f"{self.method}?{self.query}" if self.query else self.method


OUTCOMES = {"login", "302", "200", "400", "401", "403", "404", "405", "409"}


def parse_table(text: str) -> dict[str, list[Line]]:
    lines: dict[str, list[Line]] = {}
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        route, request, *cells = raw.split()
        assert len(cells) == len(PERSONAS), f"{raw!r} needs one cell per persona"
        assert set(cells) <= OUTCOMES, f"{raw!r} has an outcome not in {sorted(OUTCOMES)}"
        method, _, query = request.partition("?")
        assert method in {"GET", "POST"}, f"{raw!r}: GET or POST"
        expected = dict(zip(PERSONAS, cells, strict=True))
        lines.setdefault(route, []).append(Line(route, method, query, expected))
    return lines


EXPECTED = parse_table(TABLE)


# --- The routes, from the URLconf --------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str  # the full path pattern, for instance "incidents/<int:pk>/"
    params: tuple[str, ...]


def walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(full path pattern, namespaced name) for every pattern, namespaces included."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield prefix + str(entry.pattern), name or ""


def all_routes() -> list[Route]:
    """Every route once. Where two patterns are the same path (django.contrib.auth's
    login and logout after Boundaries' own), only the first is ever served."""
    seen: set[str] = set()
    routes = []
    for pattern, name in walk(get_resolver().url_patterns):
        if pattern in seen:
            continue
        seen.add(pattern)
        params = tuple(re.findall(r"<(?:\w+:)?(\w+)>", pattern))
        if pattern.startswith("admin/"):
            name = name or _admin_unnamed(pattern)
        routes.append(Route(name or f"(unnamed) {pattern}", pattern, params))
    return routes


def _admin_unnamed(pattern: str) -> str:
    # Django's admin adds unnamed patterns: "<model>/<id>/" redirects to the change
    # page, and a final catch-all redirects to the sign-in or answers 404.
    if pattern.endswith("<path:object_id>/"):
        return "admin (object redirect) " + pattern
    return "admin (catch-all)"


ROUTES = all_routes()
APP_ROUTES = [route for route in ROUTES if not route.pattern.startswith("admin/")]
ADMIN_ROUTES = [route for route in ROUTES if route.pattern.startswith("admin/")]


# --- The world every request starts from ---------------------------------------------------


@dataclass
class World:
    people: dict[str, object]
    incident: object
    draft: Draft
    alert: Alert
    patient: object
    script: object
    draft_version: object
    proposed_version: object
    secrets: dict[str, str]


def _group(name: str, *codenames: str) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.add(*Permission.objects.filter(codename__in=codenames))
    return group


@pytest.fixture
def world(
    unit,
    other_unit,
    nurse,
    other_unit_nurse,
    supervisor,
    other_unit_supervisor,
    manager,
    administrator,
    deactivated,
) -> World:
    supervisor.groups.add(_group(SCRIPT_EDITORS, "draft_script"))
    manager.groups.add(_group(SCRIPT_APPROVERS, "draft_script", "approve_script"))
    # Each persona files on ward B too, so that nobody's pages are empty by accident.
    IncidentFactory(reporter=other_unit_nurse, description="Ward B's own incident.")

    patient = PatientFactory(reference="9990001234")
    # Last month, which the report pages show unless asked for another.
    last_month = timezone.now().replace(day=1, hour=12, minute=0) - timedelta(days=10)
    incident = IncidentFactory(
        reporter=nurse,
        unit=unit,
        patient=patient,
        occurred_at=last_month,
        submitted_at=last_month + timedelta(hours=1),
        description="Waited by my car after the late shift: MATRIX-SECRET-DESCRIPTION.",
    )
    WitnessFactory(incident=incident, name="Matrixwitness Polgrain")
    Addendum.objects.create(incident=incident, author=nurse, text="MATRIX-SECRET-ADDENDUM")
    alert = repeat_alert_on(incident)
    draft = Draft.objects.create(
        owner=nurse, data={"description": ["MATRIX-SECRET-DRAFT"], "unit": [str(unit.pk)]}
    )

    script = ScriptFactory()
    gifts = [RequestType.objects.get(code="gifts")]
    words = {"guidance": "", "category": script_category("gifts-favours"), "stage": "first"}
    draft_version = draft_script(
        author=supervisor, title="A draft", text="Thanks, but no.", request_types=gifts, **words
    ).versions.get()
    proposed = draft_script(
        author=supervisor, title="A proposal", text="No, thank you.", request_types=gifts, **words
    ).versions.get()
    proposed = propose_version(proposer=supervisor, version=proposed)

    people = {
        "anonymous": None,
        "nurse": nurse,
        "nurse2": other_unit_nurse,
        "supervisor": supervisor,
        "supervisor2": other_unit_supervisor,
        "manager": manager,
        "administrator": administrator,
        "deactivated": deactivated,
    }
    secrets = {
        "incident reference": incident.reference,
        "description": "MATRIX-SECRET-DESCRIPTION",
        "witness": "Matrixwitness",
        "addendum": "MATRIX-SECRET-ADDENDUM",
        "patient reference": patient.reference,
        "patient reference, spaced": "999 000 1234",
        "patient id": str(patient.public_id),
        "alert id": str(alert.public_id),
        "draft": "MATRIX-SECRET-DRAFT",
        "draft id": str(draft.pk),
    }
    return World(people, incident, draft, alert, patient, script, draft_version, proposed, secrets)


# --- Addresses and data ---------------------------------------------------------------------


def url_for(route: Route, world: World) -> str:
    """The route's address with real objects of the world in its parameters."""
    values = {
        "draft_id": world.draft.pk,
        "code": "policy" if route.name == "scripts_library:category" else "personal-contact",
        "uidb64": urlsafe_base64_encode(force_bytes(world.people["nurse"].pk)),
        "token": "not-a-valid-token",
    }
    if route.name == "incidents:patient_timeline":
        values["public_id"] = world.patient.public_id
    elif route.name.startswith("incidents:alert_"):
        values["public_id"] = world.alert.public_id
    if route.name.startswith("incidents:"):
        values["pk"] = world.incident.pk
    elif route.name == "scripts_library:propose":
        values["pk"] = world.draft_version.pk
    elif route.name in {"scripts_library:approve", "scripts_library:send_back"}:
        values["pk"] = world.proposed_version.pk
    elif route.name.startswith("scripts_library:"):
        values["pk"] = world.script.pk
    missing = [param for param in route.params if param not in values]
    assert not missing, f"{route.name}: say which object fills {missing} in url_for()"
    return reverse(route.name, kwargs={param: values[param] for param in route.params})


def _totp_code(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def _own_unit(user):
    membership = user.memberships.filter(is_primary=True).first() if user else None
    return membership.unit if membership else None


def _script_form() -> dict:
    return {
        "title": "Gift: a kind no",
        "text": "Thank you, that's kind, but I can't accept gifts.",
        "guidance": "",
        "category": script_category("gifts-favours").pk,
        "stage": "first",
        "request_types": [RequestType.objects.get(code="gifts").pk],
    }


# What a person who may act would post to each route. Routes not named post nothing.
POST_DATA: dict[str, Callable[[World, object], dict]] = {
    "login": lambda w, user: {"username": "nurse", "password": TEST_PASSWORD},
    "password_reset": lambda w, user: {"email": "nurse@example.invalid"},
    "password_change": lambda w, user: {
        "old_password": TEST_PASSWORD,
        "new_password1": "a-brand-new-long-passphrase",
        "new_password2": "a-brand-new-long-passphrase",
    },
    "two_factor": lambda w, user: {"code": "123456"},
    "two_factor_setup": lambda w, user: (
        {"code": _totp_code(two_factor.device_being_set_up(user, {}))} if user else {}
    ),
    "incidents:new": lambda w, user: incident_post(_own_unit(user) or w.incident.unit),
    "incidents:draft_autosave": lambda w, user: {"location": "Bay 4"},
    "incidents:addendum_add": lambda w, user: {
        "token": str(uuid.uuid4()),
        "text": "He called the ward again today.",
    },
    "incidents:review": lambda w, user: {
        "version": w.incident.version,
        "status": "under_review",
        "actions": ["debrief_offered"],
        "feedback": "Thank you for writing this down.",
        "internal_note": "",
    },
    "incidents:alert_acknowledge": lambda w, user: {
        "action": "Watching for now",
        "note": "Spoke with the nurse in charge.",
    },
    "incidents:alert_resolve": lambda w, user: {"resolution": "Care transferred."},
    "incidents:alert_thresholds": lambda w, user: {
        "repeat_count": 3,
        "repeat_days": 90,
        "staff_count": 2,
        "staff_days": 30,
    },
    "scripts_library:create": lambda w, user: _script_form(),
    "scripts_library:edit": lambda w, user: _script_form(),
    "scripts_library:send_back": lambda w, user: {
        "note": "Shorter, please.",
        "proposed": w.proposed_version.proposed_at.isoformat(),
    },
}


# --- Asking -------------------------------------------------------------------------------


@pytest.fixture
def clients(world, monkeypatch) -> dict[str, Client]:
    """One signed-in client per persona, made once per route (each ``ask`` puts its
    cookies back, and the database is rolled back, so every request starts equal).

    The matrix is about who gets what, not about drawing PDFs (their own tests read the
    PDFs back): WeasyPrint and the charts are replaced by the HTML the PDF would be
    drawn from, so the leak check reads the same words, a hundred times faster."""

    def html_instead_of_pdf(template_name, context, *, request=None, **metadata) -> bytes:
        return render_to_string(template_name, context, request=request).encode()

    monkeypatch.setattr("incidents.reports.render_pdf", html_instead_of_pdf)
    monkeypatch.setattr("scripts_library.views.render_pdf", html_instead_of_pdf)
    monkeypatch.setattr("incidents.charts.monthly_charts", lambda summary: {})
    clients = {
        persona: Client() if user is None else client_for(user)
        for persona, user in world.people.items()
    }
    for client in clients.values():
        client.handler = _shared_handler()
    return clients


@functools.cache
def _shared_handler(*, enforce_csrf_checks: bool = False) -> ClientHandler:
    """One request handler for every client here: building the middleware chain (the
    static-file finders' scan, mostly) costs more than most requests."""
    return ClientHandler(enforce_csrf_checks=enforce_csrf_checks)


def body_of(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def outcome(response) -> str:
    if response.status_code == 302:
        location = urlsplit(response["Location"]).path
        return "login" if location == reverse("login") else "302"
    return str(response.status_code)


def ask(clients: dict[str, Client], persona: str, method: str, url: str, data=None):
    """One request, in a savepoint that is then rolled back; the client's cookies are
    put back as they were (a sign-in or sign-out changes them)."""
    client = clients[persona]
    cookies = copy.deepcopy(client.cookies)
    with transaction.atomic():
        response = getattr(client, method.lower())(url, data or {})
        body = body_of(response)
        transaction.set_rollback(True)
    client.cookies = cookies
    return response, body


def ask_route(world, clients, persona: str, route: Route, method: str, query: str = ""):
    url = url_for(route, world) + (f"?{query}" if query else "")
    data = None
    if method == "POST" and route.name in POST_DATA:
        with transaction.atomic():
            # Some data needs rows (a device being set up): made and rolled back with it.
            data = POST_DATA[route.name](world, world.people[persona])
            response = ask(clients, persona, method, url, data)
            transaction.set_rollback(True)
        return response
    return ask(clients, persona, method, url, data)


def problems_with(world: World, persona: str, response, body: bytes) -> list[str]:
    problems = []
    if persona in STRANGERS:
        text = body.decode("utf-8", errors="replace")
        leaked = [name for name, secret in world.secrets.items() if secret in text]
        if leaked:
            problems.append(f"shows {', '.join(leaked)} to {persona}")
    signed_in = persona not in {"anonymous", "deactivated"}
    if signed_in and "no-store" not in response.get("Cache-Control", ""):
        problems.append(f"lets a cache keep {persona}'s response (no no-store)")
    return problems


# --- The tests ------------------------------------------------------------------------------


REFUSED = {"login", "401", "403", "404", "405"}
# Who tries HEAD, PUT and DELETE: people refused much of what they ask for.
PROBERS = ("nurse2", "supervisor2", "administrator")


@pytest.mark.parametrize("route", APP_ROUTES, ids=lambda route: route.name)
def test_every_route_answers_every_persona_as_the_table_says(world, clients, route):
    lines = EXPECTED.get(route.name)
    assert lines, (
        f"{route.name} ({route.pattern}) is not in the role matrix: add its GET and POST "
        "lines to TABLE in tests/boundaries/test_role_matrix.py"
    )
    assert {"GET", "POST"} <= {line.method for line in lines}, (
        f"{route.name} needs at least a GET line and a POST line"
    )
    wrong = []
    for line in lines:
        for persona in PERSONAS:
            response, body = ask_route(world, clients, persona, route, line.method, line.query)
            got = outcome(response)
            if got != line.expected[persona]:
                wrong.append(
                    f"{line.label:<28} {persona:<14} expected {line.expected[persona]}, got {got}"
                )
            wrong += [
                f"{line.label:<28} {problem}"
                for problem in problems_with(world, persona, response, body)
            ]
    wrong += other_methods_opening_more(world, clients, route, lines)
    assert not wrong, f"{route.name}:\n  " + "\n  ".join(wrong)


def other_methods_opening_more(world, clients, route: Route, lines: list[Line]) -> list[str]:
    """HEAD gets no further than GET, and PUT and DELETE no further than POST: where a
    person's POST is refused, so are they. (Django's form views, such as sign-in, treat
    PUT as POST; that opens nothing a POST would not.)"""
    get_line = next(line for line in lines if line.method == "GET")
    post_line = next(line for line in lines if line.method == "POST")
    wrong = []
    for persona in PROBERS:
        head, _ = ask_route(world, clients, persona, route, "HEAD", get_line.query)
        if outcome(head) not in {get_line.expected[persona], "405"}:
            wrong.append(f"HEAD {persona}: {outcome(head)}, GET is {get_line.expected[persona]}")
        if post_line.expected[persona] not in REFUSED:
            continue
        for method in ("PUT", "DELETE"):
            response, _ = ask_route(world, clients, persona, route, method)
            if outcome(response) not in REFUSED:
                wrong.append(f"{method} {persona}: {outcome(response)}, POST is refused")
    return wrong


def test_every_line_of_the_table_is_a_route_that_exists():
    names = {route.name for route in APP_ROUTES}
    gone = sorted(set(EXPECTED) - names)
    assert not gone, f"the role matrix lists routes that no longer exist: {gone}"


def test_the_admin_site_serves_the_models_and_routes_listed_here():
    listed = set(ADMIN_SITE_ROUTES)
    for label in ADMIN_MODELS:
        app, model = label.split(".")
        listed |= {f"admin:{app}_{model}_{view}" for view in ADMIN_MODEL_VIEWS}
        listed.add(f"admin (object redirect) admin/{app}/{model}/<path:object_id>/")
    served = {route.name for route in ADMIN_ROUTES}
    assert served - listed == set(), "admin routes not listed in this file"
    assert listed - served == set(), "admin routes listed here that no longer exist"


def _admin_url(route: Route, world: World) -> str:
    if "(?P<app_label>" in route.pattern:
        return "/admin/incidents/"
    if "(?P<url>" in route.pattern:
        return "/admin/no-such-page/"
    # Someone's user record stands in for any object: enough to reach each view.
    path = "/" + route.pattern.replace("<path:content_type_id>", "1")
    for param in ("<id>", "<path:object_id>"):
        path = path.replace(param, str(world.people["nurse"].pk))
    return path


def test_only_administrators_get_anywhere_in_the_admin_site(world, clients):
    """Every admin route: a visitor is sent to sign in; a reporter and a manager (the
    most trusted of the other roles) are turned away, whatever they post; the
    administrator reaches each page without an error."""
    wrong = []
    for route in ADMIN_ROUTES:
        url = _admin_url(route, world)
        for persona, method in ADMIN_PROBES:
            response, body = ask(clients, persona, method, url)
            status = response.status_code
            if persona == "administrator":
                if status >= 500:
                    wrong.append(f"{url} {method} administrator: {status}")
            elif status == 200 or (status == 302 and not _turned_away(response)):
                wrong.append(f"{url} {method} {persona}: {status} {response.get('Location', '')}")
            wrong += [f"{url} {method} {p}" for p in problems_with(world, persona, response, body)]
    assert not wrong, "\n  ".join(["the admin site:", *wrong])


ADMIN_PROBES = (
    ("anonymous", "GET"),
    ("nurse", "GET"),
    ("nurse", "POST"),
    ("manager", "GET"),
    ("manager", "POST"),
    ("administrator", "GET"),
)


def _turned_away(response) -> bool:
    """Sent to sign in (directly or through the admin's sign-in page), or to the admin
    index, which sends a non-administrator on to the same place."""
    path = urlsplit(response["Location"]).path
    return path in {reverse("login"), reverse("admin:login"), reverse("admin:index")}


def test_the_secrets_are_on_the_pages_of_people_who_may_see_them(world, clients):
    """The other side of the leak check: each secret the strangers never receive is
    really shown to someone entitled to it, so its absence means something."""
    pages = [
        ("nurse", reverse("incidents:detail", args=[world.incident.pk])),
        ("nurse", reverse("incidents:list")),
        ("nurse", reverse("incidents:draft", args=[world.draft.pk])),
        ("supervisor", reverse("incidents:alert_list")),
        ("supervisor", reverse("incidents:alert_detail", args=[world.alert.public_id])),
        ("supervisor", reverse("incidents:report_csv") + "?unit=WARD-A&details=1"),
    ]
    seen = ""
    for persona, url in pages:
        response, body = ask(clients, persona, "GET", url)
        assert response.status_code == 200, url
        seen += body.decode()
    missing = [name for name, secret in world.secrets.items() if secret not in seen]
    assert missing == ["patient reference, spaced"], missing


def test_no_post_is_accepted_without_the_csrf_token(world):
    """Every route refuses a POST that does not carry the CSRF token, before anything
    else happens (signing in and out included). The health check, answered ahead of
    every middleware for load balancers, takes GET only."""
    client = client_for(world.people["manager"])
    client.handler = _shared_handler(enforce_csrf_checks=True)
    accepted = []
    for route in APP_ROUTES:
        response, _ = ask({"manager": client}, "manager", "POST", url_for(route, world))
        if route.name == "healthz" and response.status_code == 405:
            continue
        if response.status_code != 403:
            accepted.append(f"{route.name}: {response.status_code}")
    assert not accepted


def test_the_world_has_what_the_table_assumes(world):
    assert world.incident.unit.code == "WARD-A"
    assert world.draft.owner == world.people["nurse"]
    assert set(world.alert.links.values_list("unit__code", flat=True)) == {"WARD-A"}
    assert world.proposed_version.state == "proposed"
    assert world.draft_version.state == "draft"
    assert isinstance(world.draft.pk, uuid.UUID)
