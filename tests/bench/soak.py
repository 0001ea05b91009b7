"""``make soak``: concurrent filing through the real endpoint, across a database restart.

    python -m tests.bench.soak [--clients 20] [--filings 2000] [--outage 4]

Serves the app with gunicorn (production settings) against a fresh PostgreSQL database.
Twenty clients, each signed in as a different reporter, file incidents through
``POST /incidents/new/`` as the form does (session, CSRF token, a fresh submission
token per report, witnesses, a library script or their own words), about a pool of
patients they share, so filings about one patient often meet. A client retries a
report on any error (a 503, a refused connection, a timeout) with the same submission
token and the same form, until it is acknowledged: a 302 to /incidents/<pk>/filed/.

Part-way through, PostgreSQL is stopped and started again (``pg_ctlcluster``); gunicorn
is not touched. Then the checks, each printed with its count:

- every acknowledged report exists exactly once, with the token it was sent with;
- no report was filed twice (each carries a unique marker in its description);
- every report was acknowledged in the end, some of them after the restart;
- the alerts match a recount from scratch (tests/bench/recount.py), and the script
  library's running counts of use match a count of the incidents;
- during the outage people got the 503 "Please try again" page, and no response
  anywhere was a 500 or showed a traceback;
- gunicorn's master process is the one started at the beginning, and /healthz answers;
- the audit trail still verifies (manage.py verify_audit).

Exits 1 if any check fails. Writes bench-results/soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tests.bench.client import Browser
from tests.bench.seed import Scale, password_hash, prepare, seed
from tests.bench.stack import (
    RESULTS,
    Database,
    Gunicorn,
    MailSink,
    Settings,
    log,
    static_root,
    wait_for_postgres,
)

DEFAULT_DATABASE = "postgres://root@127.0.0.1:5432/boundaries_soak"
# Twenty reporters on four wards, the usual supervisors and managers, a pool of
# patients; no incidents yet: every incident and alert is made by the soak.
SOAK_SCALE = Scale(
    units=4,
    staff=2 * 4 + 10 + 24,
    patients=150,
    repeaters=15,
    incidents=0,
    months=1,
    big_month=0,
    small_month=0,
)
RETRY_FOR_SECONDS = 180
PLEASE_TRY_AGAIN = "Please try again"


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[str, tuple[str, int]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    transport_errors: Counter = field(default_factory=Counter)
    retries: int = 0
    try_again_pages: int = 0
    bad_responses: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    acknowledged_after_restart: int = 0
    restarted: threading.Event = field(default_factory=threading.Event)

    def saw(self, status: int) -> None:
        with self.lock:
            self.statuses[str(status)] += 1


def _form(
    rng: random.Random, *, marker: str, token: str, csrf: str, unit_id: int, references, scripts
):
    """One report as the incident form posts it."""
    from django.utils import timezone

    when = timezone.localtime() - timedelta(minutes=rng.randint(1, 240))
    witnesses = rng.choice([0, 0, 1, 2])
    about_patient = rng.random() > 0.05
    request_type = rng.choice(
        ["personal-contact"] * 5
        + ["social-media", "meet-outside", "gifts", "romantic", "unwanted-attention"] * 2
        + ["harassment", "stalking"]
    )
    script = rng.choice([*scripts, None])
    data = {
        "csrfmiddlewaretoken": csrf,
        "submission_token": token,
        "occurred_date": when.strftime("%Y-%m-%d"),
        "occurred_time": when.strftime("%H:%M"),
        "unit": str(unit_id),
        "location": "Bay 2",
        "other_party": "patient" if about_patient else "other",
        "patient_reference": rng.choice(references) if about_patient else "",
        "request_type": request_type,
        "channel": rng.choice(["in-person", "unit-phone", "social-media"]),
        "description": f"Asked for my number again. [{marker}]",
        "script_version": str(script) if script else "",
        "own_words": "" if script else "I can't share my personal details.",
        "person_response": rng.choice(["accepted"] * 6 + ["asked_again"] * 3 + ["escalated"]),
        "supervisor_told": "",
        "supervisor_told_at": "",
        "witnesses-TOTAL_FORMS": str(max(witnesses, 1)),
        "witnesses-INITIAL_FORMS": "0",
        "witnesses-MIN_NUM_FORMS": "0",
        "witnesses-MAX_NUM_FORMS": "6",
        "action": "submit",
    }
    for index in range(max(witnesses, 1)):
        named = index < witnesses
        data[f"witnesses-{index}-name"] = f"Witness {index + 1}" if named else ""
        data[f"witnesses-{index}-role"] = "staff" if named else ""
        data[f"witnesses-{index}-contact"] = ""
    return data


def _client(
    number: int,
    *,
    base_url: str,
    person,
    unit_id: int,
    password: str,
    count: int,
    references: list[str],
    scripts: list[int],
    tally: Tally,
    failures: list[str],
) -> None:
    rng = random.Random(number)
    browser = Browser(base_url, timeout=30)
    try:
        browser.sign_in(person.username, password)
        csrf = browser.form_token("/incidents/new/")
    except (RuntimeError, OSError) as error:
        failures.append(f"client {number} could not sign in: {error}")
        return
    for sequence in range(count):
        marker = f"soak-{number:02d}-{sequence:04d}"
        token = str(uuid.uuid4())
        data = _form(
            rng,
            marker=marker,
            token=token,
            csrf=csrf,
            unit_id=unit_id,
            references=references,
            scripts=scripts,
        )
        _file(browser, data, marker=marker, token=token, tally=tally)


def _file(browser: Browser, data: dict, *, marker: str, token: str, tally: Tally) -> None:
    """Send one report until it is acknowledged, the same form every time."""
    deadline = time.monotonic() + RETRY_FOR_SECONDS
    pause = 0.2
    while True:
        try:
            answer = browser.post("/incidents/new/", data)
        except OSError as error:  # refused, reset, timed out: the server is not there
            with tally.lock:
                tally.transport_errors[type(error).__name__] += 1
        else:
            tally.saw(answer.status)
            location = answer.location
            if answer.status == 302 and location.rstrip("/").endswith("/filed"):
                pk = int(location.rstrip("/").split("/")[-2])
                with tally.lock:
                    tally.acknowledged[marker] = (token, pk)
                    if tally.restarted.is_set():
                        tally.acknowledged_after_restart += 1
                return
            body = answer.body
            if "Traceback" in body or 'File "/' in body or answer.status == 500:
                with tally.lock:
                    tally.bad_responses.append(f"{marker}: {answer.status} {body[:200]!r}")
            elif answer.status == 503:
                if PLEASE_TRY_AGAIN in body:
                    with tally.lock:
                        tally.try_again_pages += 1
                else:
                    with tally.lock:
                        tally.bad_responses.append(f"{marker}: a 503 without the page")
            elif answer.status not in (502, 504):
                # A form sent back (200) or refused (400/403) will not improve by retrying.
                with tally.lock:
                    tally.bad_responses.append(f"{marker}: {answer.status} {body[:200]!r}")
                    tally.given_up.append(marker)
                return
        if time.monotonic() > deadline:
            with tally.lock:
                tally.given_up.append(marker)
            return
        with tally.lock:
            tally.retries += 1
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def _cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions:
        raise SystemExit("no PostgreSQL cluster under /etc/postgresql to restart")
    return versions[-1], "main"


def _pg_ctl(action: str, *extra: str) -> None:
    version, cluster = _cluster()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action, *extra],
        check=True,
        capture_output=True,
    )


def _restart_postgres(database: Database, outage: float) -> dict:
    """Stop PostgreSQL (fast: connections are cut), wait, start it again."""
    started = time.monotonic()
    _pg_ctl("stop", "-m", "fast")
    stopped = time.monotonic()
    time.sleep(outage)
    _pg_ctl("start")
    wait_for_postgres(database)
    back = time.monotonic()
    return {
        "stop_seconds": round(stopped - started, 2),
        "down_seconds": round(back - stopped, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_DATABASE)
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--filings", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--outage", type=float, default=4, help="seconds PostgreSQL is down")
    parser.add_argument(
        "--restart-at", type=float, default=0.3, help="share of filings acknowledged first"
    )
    parser.add_argument("--output", default=str(RESULTS / "soak.json"))
    args = parser.parse_args()

    RESULTS.mkdir(exist_ok=True)
    database = Database(args.database_url)
    wait_for_postgres(database)
    password = secrets.token_urlsafe(16)
    report: dict = {"settings": vars(args)}
    failures: list[str] = []
    tally = Tally()

    with static_root() as static, MailSink() as mail:
        settings = Settings(database=database, static_root=static, mail_port=mail.port)
        os.environ.update(settings.environ())
        import django

        django.setup()
        from django.db import connection

        from boundaries.models import Membership, Role, User
        from incidents.models import Patient
        from scripts_library.models import ScriptVersion

        log("preparing the database")
        prepare(settings)
        seed(database, SOAK_SCALE, password_hash=password_hash(password))
        settings.manage("collectstatic", "--no-input")
        reporters = list(User.objects.filter(role=Role.REPORTER).order_by("username"))
        if len(reporters) < args.clients:
            raise SystemExit(f"only {len(reporters)} reporters for {args.clients} clients")
        # Looked up here: the clients' threads stay off the ORM (and its connections).
        home_units = dict(
            Membership.objects.filter(is_primary=True).values_list("user_id", "unit_id")
        )
        references = list(Patient.objects.values_list("reference", flat=True))
        scripts = list(ScriptVersion.objects.offered().values_list("pk", flat=True))
        connection.close()

        app_log = RESULTS / "soak-app.log"
        app_log.unlink(missing_ok=True)
        server = Gunicorn(
            settings, app="boundaries.wsgi:application", workers=args.workers, log_path=app_log
        )
        with server:
            master = server.process.pid
            workers_before = server.worker_pids()
            per_client = [args.filings // args.clients] * args.clients
            for index in range(args.filings % args.clients):
                per_client[index] += 1
            threads = [
                threading.Thread(
                    target=_client,
                    args=(number,),
                    kwargs={
                        "base_url": server.url,
                        "person": reporters[number],
                        "unit_id": home_units[reporters[number].pk],
                        "password": password,
                        "count": per_client[number],
                        "references": references,
                        "scripts": scripts,
                        "tally": tally,
                        "failures": failures,
                    },
                    name=f"soak-client-{number}",
                )
                for number in range(args.clients)
            ]
            started = time.monotonic()
            log(f"{args.clients} clients filing {args.filings} reports")
            for thread in threads:
                thread.start()
            restart_when = int(args.filings * args.restart_at)
            while len(tally.acknowledged) < restart_when and any(t.is_alive() for t in threads):
                time.sleep(0.1)
            log(f"{len(tally.acknowledged)} acknowledged: restarting PostgreSQL")
            report["restart"] = _restart_postgres(database, args.outage)
            tally.restarted.set()
            report["restart"]["acknowledged_before"] = len(tally.acknowledged)
            log(f"PostgreSQL is back after {report['restart']['down_seconds']} s")
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            healthz = Browser(server.url).get("/healthz")
            master_alive = server.process.poll() is None
            workers_after = server.worker_pids()
        log(f"all clients done in {elapsed:.0f} s; checking")

        from django.db import connections

        connections.close_all()
        from incidents.models import Incident
        from tests.bench.recount import recount

        markers = Counter()
        by_pk = {}
        for pk, token, description in Incident.objects.values_list(
            "pk", "submission_token", "description"
        ):
            marker = description.rsplit("[", 1)[-1].rstrip("]")
            markers[marker] += 1
            by_pk[pk] = (str(token), marker)
        lost = [
            marker
            for marker, (token, pk) in tally.acknowledged.items()
            if by_pk.get(pk) != (token, marker)
        ]
        duplicated = sorted(marker for marker, count in markers.items() if count > 1)
        alerts = recount()
        # The library's running counts, kept by filing, against a count of the incidents:
        # a filing cut off by the restart must have taken its count back with it.
        from scripts_library.models import ScriptUse
        from scripts_library.services import tally_uses

        kept_uses = {
            (use.script_id, use.unit_id): (use.used, use.accepted, use.asked_again, use.escalated)
            for use in ScriptUse.objects.all()
        }
        counted_uses = {
            (row["script"], row["unit"]): (
                row["used"],
                row["accepted"],
                row["asked_again"],
                row["escalated"],
            )
            for row in tally_uses(Incident.objects.all())
        }
        audit = subprocess.run(
            [sys.executable, "manage.py", "verify_audit"],
            env=settings.environ(),
            capture_output=True,
            text=True,
            check=False,
        )

    counts = {
        "filings": args.filings,
        "acknowledged": len(tally.acknowledged),
        "acknowledged_after_restart": tally.acknowledged_after_restart,
        "incidents_in_database": len(by_pk),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "given_up": len(tally.given_up),
        "retries": tally.retries,
        "try_again_pages_seen": tally.try_again_pages,
        "responses_by_status": dict(tally.statuses),
        "connection_errors": dict(tally.transport_errors),
        "bad_responses": len(tally.bad_responses),
        "alerts_stored": alerts["alerts_stored"],
        "alerts_recounted": alerts["alerts_expected"],
        "alert_differences": len(alerts["problems"]),
        "script_uses_counted": sum(used for used, *_ in counted_uses.values()),
        "script_uses_kept": sum(used for used, *_ in kept_uses.values()),
        "emails_sent": mail.received,
        "seconds": round(elapsed, 1),
    }
    checks = {
        "every acknowledged report exists exactly once": not lost,
        "no report filed twice": not duplicated and len(by_pk) == len(markers),
        "every report acknowledged in the end": len(tally.acknowledged) == args.filings
        and len(by_pk) == args.filings,
        "filing went on after the restart": tally.acknowledged_after_restart > 0,
        "alerts match a recount from scratch": not alerts["problems"],
        "the library's counts of script use match the incidents": bool(counted_uses)
        and kept_uses == counted_uses,
        "the outage showed the 503 'Please try again' page": tally.try_again_pages > 0,
        "no 500 and no traceback in any response": not tally.bad_responses,
        "gunicorn never restarted, /healthz answers 200": master_alive and healthz.status == 200,
        "the audit trail verifies": audit.returncode == 0,
    }
    report.update(
        {
            "counts": counts,
            "checks": checks,
            "gunicorn": {
                "master": master,
                "workers_before": workers_before,
                "workers_after": workers_after,
            },
            "alerts": alerts,
            "examples": {
                "lost": lost[:10],
                "duplicated": duplicated[:10],
                "bad_responses": tally.bad_responses[:10],
                "given_up": tally.given_up[:10],
                "client_failures": failures,
            },
            "verify_audit": (audit.stdout or audit.stderr).strip()[-300:],
        }
    )
    Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    for name, value in counts.items():
        print(f"  {name:32} {value}")
    print()
    for name, passed in checks.items():
        print(f"[{'ok' if passed else 'FAILED':>6}] {name}")
    if failures:
        print("\n".join(failures))
    log(f"written to {args.output}")
    return 0 if all(checks.values()) and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
