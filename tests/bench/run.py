"""``make bench``: the 1,000,000-incident benchmark against bare-Django baselines.

    python -m tests.bench.run [--database-url URL] [--workers 3] [--seconds 10]

1. Makes the database again and seeds it (seed.sql: 1,000,000 incidents, 50 units,
   200,000 patients, 5,000 staff, alerts), timing the seed.
2. Serves the app and the bare baselines (tests/bench/baseline.py) with gunicorn on
   127.0.0.1 under production settings, and signs people in over HTTP as a browser
   does (password, then a TOTP code for supervisors and managers).
3. Drives each endpoint with wrk at 16 connections: the baselines before and after the
   app (their mean is the reference, so drift during the run shows), then filing
   (a real POST with session, CSRF token, two witnesses and a library script) and the
   pages; the monthly PDF at as many connections as there are workers.
4. Times the pattern rules at filing on their own, and the monthly PDF in a process of
   its own (time, peak memory, a 100,000-incident month against a 10,000 one).
5. Prints every figure and target (met or not met), writes bench-results/bench.json,
   and exits 1 if a target was not met.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg2

from tests.bench import load
from tests.bench.client import Browser
from tests.bench.load import Line, LoadResult
from tests.bench.seed import FULL, password_hash, prepare, seed
from tests.bench.stack import (
    PYTHON,
    RESULTS,
    ROOT,
    Database,
    Gunicorn,
    MailSink,
    Settings,
    log,
    static_root,
    wait_for_postgres,
)

DEFAULT_DATABASE = "postgres://root@127.0.0.1:5432/boundaries_bench"
FILING_SESSIONS = 8
BODIES_PER_SESSION = 40

# Targets (issue 8).
FILING_SHARE_OF_INSERT = 0.30
PAGE_SHARE_OF_LIST = 0.75
PAGE_P99_MS = 100
EVALUATION_MS = 5
PDF_SECONDS = 3
PDF_MEGABYTES = 300
PDF_FLATNESS = 1.3
SEED_SECONDS = 120


@dataclass
class Personas:
    """The people and records the benchmark uses, chosen from the seeded data."""

    list_reporter: object
    filers: list
    supervisor: object
    manager: object
    timeline_patient: object
    report_unit: object


def choose_personas() -> Personas:
    from django.db.models import Count

    from boundaries.models import Role, Unit, User
    from incidents.models import Incident, Patient

    # My incidents: the reporter with the most incidents (keyset pages read 26 rows
    # whatever the count, so this is the worst case only if that is wrong).
    busiest = (
        Incident.objects.values("reporter")
        .annotate(n=Count("*"))
        .order_by("-n", "reporter")
        .values_list("reporter", flat=True)
        .first()
    )
    list_reporter = User.objects.get(pk=busiest)
    # Filing: reporters on different units.
    filers = []
    for unit in Unit.objects.order_by("code")[:FILING_SESSIONS]:
        filers.append(
            User.objects.filter(role=Role.REPORTER, memberships__unit=unit).order_by("pk")[3]
        )
    # The review queue and alerts: a supervisor of two units (the busier kind).
    supervisor = (
        User.objects.filter(role=Role.SUPERVISOR)
        .annotate(unit_count=Count("memberships"))
        .filter(unit_count__gte=2)
        .order_by("username")
        .first()
    )
    manager = User.objects.filter(role=Role.MANAGER).order_by("username").first()
    # A patient timeline a supervisor opens from an alert: a frequent attender of their
    # units, with one of the longest histories there.
    units = list(Unit.objects.supervised_by(supervisor))
    heavy = list(
        Incident.objects.filter(unit__in=units, patient__isnull=False)
        .values("patient")
        .annotate(n=Count("*"))
        .order_by("-n", "patient")
        .values_list("patient", flat=True)[:20]
    )
    timeline_patient = Patient.objects.get(pk=heavy[len(heavy) // 2])
    return Personas(
        list_reporter=list_reporter,
        filers=filers,
        supervisor=supervisor,
        manager=manager,
        timeline_patient=timeline_patient,
        report_unit=units[0],
    )


def prepare_people(personas: Personas, password: str) -> dict[int, bytes]:
    """Set the password of the people who sign in, and give supervisors and managers an
    authenticator; returns each TOTP key by person."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from boundaries.access import second_factor_required

    keys = {}
    people = [personas.list_reporter, *personas.filers, personas.supervisor, personas.manager]
    for person in people:
        person.set_password(password)
        person.save(update_fields=["password"])
        if second_factor_required(person):
            device, _ = TOTPDevice.objects.get_or_create(
                user=person, confirmed=True, defaults={"name": "Benchmark phone"}
            )
            keys[person.pk] = device.bin_key
    return keys


def sign_in(base_url: str, person, password: str, keys: dict[int, bytes]) -> Browser:
    browser = Browser(base_url)
    browser.sign_in(person.username, password, keys.get(person.pk))
    return browser


def filing_lines(browser: Browser, reporter, *, rng_seed: int) -> list[Line]:
    """Form bodies as the incident form posts them: the reporter's unit, a patient with
    a history there (or now and then a new one), a library script, two witnesses."""
    import random

    from django.utils import timezone

    from incidents.models import Incident, RequestType
    from incidents.patient_refs import nhs_number_is_valid
    from scripts_library.models import ScriptVersion

    rng = random.Random(rng_seed)
    page = browser.get("/incidents/new/")
    token = page.body.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    unit = reporter.memberships.get(is_primary=True).unit
    references = list(
        Incident.objects.filter(unit=unit, patient__isnull=False)
        .order_by("-occurred_at")
        .values_list("patient__reference", flat=True)[:200]
    )
    # Now and then a patient not seen before: valid NHS numbers the seed never uses.
    new_references: list[str] = []
    candidate = 99_999 - rng_seed * 1000
    while len(new_references) < 5:
        for check in range(10):
            reference = f"9998{candidate:05d}{check}"
            if nhs_number_is_valid(reference):
                new_references.append(reference)
                break
        candidate -= 1
    scripts = list(ScriptVersion.objects.offered().values_list("pk", flat=True))
    types = list(RequestType.objects.values_list("code", flat=True))
    when = timezone.localtime() - timedelta(hours=1)
    lines = []
    for number in range(BODIES_PER_SESSION):
        reference = new_references[number % 5] if number % 8 == 7 else rng.choice(references)
        data = {
            "csrfmiddlewaretoken": token,
            "submission_token": "__TOKEN__",
            "occurred_date": when.strftime("%Y-%m-%d"),
            "occurred_time": when.strftime("%H:%M"),
            "unit": str(unit.pk),
            "location": "Bay 3",
            "other_party": "patient",
            "patient_reference": reference,
            "request_type": rng.choice(types[:9]) if number % 10 else rng.choice(types),
            "channel": "in-person",
            "description": "Asked for my mobile number twice while I did the observations.",
            "script_version": str(rng.choice(scripts)),
            "own_words": "",
            "person_response": "escalated" if number % 12 == 0 else "accepted",
            "supervisor_told": "",
            "supervisor_told_at": "",
            "witnesses-TOTAL_FORMS": "2",
            "witnesses-INITIAL_FORMS": "0",
            "witnesses-MIN_NUM_FORMS": "0",
            "witnesses-MAX_NUM_FORMS": "6",
            "witnesses-0-name": "A. Trevena",
            "witnesses-0-role": "staff",
            "witnesses-0-contact": "",
            "witnesses-1-name": "B. Pascoe",
            "witnesses-1-role": "visitor",
            "witnesses-1-contact": "Ward 7 relatives' room",
            "action": "submit",
        }
        lines.append(Line("POST", "/incidents/new/", browser.cookie_header, urlencode(data)))
    return lines


def check_filing_works(browser: Browser, line: Line) -> None:
    """One filing by hand before the load: a 302 to the filed page, or stop here."""
    body = line.body.replace("__TOKEN__", str(uuid.uuid4()))
    pairs = [pair.split("=", 1) for pair in body.split("&")]
    from urllib.parse import unquote_plus

    data = [(unquote_plus(key), unquote_plus(value)) for key, value in pairs]
    answer = browser.post("/incidents/new/", data)
    if answer.status != 302 or "/filed/" not in answer.location:
        raise SystemExit(f"a test filing was refused ({answer.status}); nothing to measure")


def page_line(browser: Browser, path: str) -> Line:
    answer = browser.get(path)
    if answer.status != 200:
        raise SystemExit(f"{path} answered {answer.status} before the load")
    return Line("GET", path, browser.cookie_header)


def run_subprocess_json(settings: Settings, *args: str) -> dict:
    completed = subprocess.run(
        [PYTHON, *args],
        cwd=ROOT,
        env=settings.environ(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10, help="per measurement")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a database seeded by an earlier run"
    )
    parser.add_argument("--output", default=str(RESULTS / "bench.json"))
    args = parser.parse_args()

    if not load.wrk_available():
        raise SystemExit("wrk is missing: apt-get install wrk")
    RESULTS.mkdir(exist_ok=True)
    database = Database(args.database_url)
    wait_for_postgres(database)
    report: dict = {"machine": machine(), "settings": vars(args)}
    password = secrets.token_urlsafe(16)

    with static_root() as static, MailSink() as mail:
        settings = Settings(database=database, static_root=static, mail_port=mail.port)
        os.environ.update(settings.environ())
        import django

        django.setup()
        from django.db import connection

        from tests.bench.baseline import create_insert_table

        if args.reuse and _seeded(database):
            # As after seeding: earlier runs' filings and rolled-back timings leave dead
            # rows and pages that are no longer all-visible.
            log("reusing the seeded database (migrations since, then VACUUM ANALYZE)")
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            with contextlib.closing(database.connect(autocommit=True)) as raw:
                raw.cursor().execute("VACUUM ANALYZE")
        else:
            started = time.perf_counter()
            prepare(settings)
            schema_seconds = time.perf_counter() - started
            log(f"schema and script library ({schema_seconds:.1f} s)")
            timings = seed(database, FULL, password_hash=password_hash(password))
            report["seed"] = {
                "schema_seconds": round(schema_seconds, 1),
                "steps": {name: round(value, 2) for name, value in timings.items()},
                "seconds": round(sum(timings.values()), 1),
            }
        settings.manage("collectstatic", "--no-input")
        with connection.cursor() as cursor:
            create_insert_table(cursor)
        # Write the seed's dirty pages out now, not during a measurement: a checkpoint
        # that fell due in the middle of one halved the review queue's figure.
        try:
            with contextlib.closing(database.connect(autocommit=True)) as raw:
                raw.cursor().execute("CHECKPOINT")
        except psycopg2.Error as error:
            log(f"no CHECKPOINT before measuring ({error.pgerror or error}); figures may dip")
        personas = choose_personas()
        keys = prepare_people(personas, password)
        connection.close()

        from incidents.reports import Month

        big_month = Month.last_completed()
        small_month = big_month.shifted(-12)
        app_log = RESULTS / "bench-app.log"
        base_log = RESULTS / "bench-baseline.log"
        for path in (app_log, base_log):
            path.unlink(missing_ok=True)
        with (
            Gunicorn(
                settings,
                app="tests.bench.baseline:application",
                workers=args.workers,
                log_path=base_log,
                ready_path="/fixed/",
            ) as base,
            Gunicorn(
                settings,
                app="boundaries.wsgi:application",
                workers=args.workers,
                log_path=app_log,
            ) as app,
        ):
            log(f"serving the app and the baselines with {args.workers} workers each")
            reporter = sign_in(app.url, personas.list_reporter, password, keys)
            supervisor = sign_in(app.url, personas.supervisor, password, keys)
            manager = sign_in(app.url, personas.manager, password, keys)
            filers = [sign_in(app.url, person, password, keys) for person in personas.filers]
            filing = []
            for number, (browser, person) in enumerate(zip(filers, personas.filers, strict=True)):
                filing.extend(filing_lines(browser, person, rng_seed=number))
            check_filing_works(filers[0], filing[0])
            timeline = f"/alerts/patients/{personas.timeline_patient.public_id}/"
            pages = {
                "my incidents": [page_line(reporter, "/incidents/")],
                "supervisor queue": [page_line(supervisor, "/review/")],
                "alert list": [page_line(supervisor, "/alerts/")],
                "patient timeline": [page_line(supervisor, timeline)],
                "script library": [page_line(reporter, "/scripts/")],
                # Not a target: the lightest signed-in page (the session, the person, the
                # second-factor check and the page layout, no data), to show how much of
                # each page's cost any signed-in request pays before its own work.
                "signed-in floor": [page_line(supervisor, "/support/")],
            }
            unit_code = personas.report_unit.code
            pdfs = {
                "monthly PDF, organisation": [
                    page_line(manager, f"/reports/monthly.pdf?month={big_month}")
                ],
                "monthly PDF, one unit": [
                    page_line(manager, f"/reports/monthly.pdf?month={big_month}&unit={unit_code}")
                ],
            }

            def measure(name, url, lines, expect, connections=args.connections, timeout=10):
                log(f"load: {name}")
                result = load.run(
                    name,
                    url,
                    lines,
                    expect=expect,
                    connections=connections,
                    seconds=args.seconds,
                    timeout=timeout,
                )
                log(
                    f"  {result.throughput:7.1f}/s  p50 {result.p50_ms:6.1f} ms  "
                    f"p99 {result.p99_ms:6.1f} ms  {result.statuses}"
                )
                return result

            baselines = {
                "fixed": [Line("GET", "/fixed/")],
                "insert": [Line("POST", "/insert/", "", "note=benchmark")],
                "list": [Line("GET", "/list/")],
            }
            expected = {"fixed": "200", "insert": "201", "list": "200"}
            rounds: dict[str, list[LoadResult]] = {name: [] for name in baselines}
            for name, lines in baselines.items():
                rounds[name].append(measure(f"baseline {name}", base.url, lines, expected[name]))
            results: dict[str, LoadResult] = {
                "filing": measure("filing", app.url, filing, "filed")
            }
            for name, lines in pages.items():
                results[name] = measure(name, app.url, lines, "200")
            for name, lines in baselines.items():
                rounds[name].append(measure(f"baseline {name}", base.url, lines, expected[name]))
            for name, lines in pdfs.items():
                results[name] = measure(
                    name, app.url, lines, "200", connections=args.workers, timeout=60
                )
            restarts = {"app": app.worker_pids(), "baseline": base.worker_pids()}

        log("timing the pattern rules at filing")
        evaluation = run_subprocess_json(
            settings, "-m", "tests.bench.evaluation", "--filings", "500"
        )
        log("timing the monthly PDF in processes of its own")
        probes = {}
        for scope, unit in (("organisation", ""), ("one unit", personas.report_unit.code)):
            for label, month in (("large", big_month), ("small", small_month)):
                runs = []
                for _ in range(3):
                    extra = ["--unit", unit] if unit else []
                    runs.append(
                        run_subprocess_json(
                            settings,
                            "-m",
                            "tests.bench.pdf_probe",
                            "--month",
                            str(month),
                            *extra,
                        )
                    )
                probes[(scope, label)] = runs

    report.update(
        _assemble(
            rounds=rounds,
            results=results,
            evaluation=evaluation,
            probes=probes,
            personas=personas,
            months=(big_month, small_month),
        )
    )
    seed_report = report.get("seed")
    if seed_report:
        report["targets"].insert(
            0,
            {
                "name": f"seeding 1,000,000 incidents < {SEED_SECONDS} s",
                "met": seed_report["seconds"] < SEED_SECONDS,
                "figure": f"{seed_report['seconds']:.0f} s (plus "
                f"{seed_report['schema_seconds']:.0f} s for the schema and script library)",
            },
        )
    report["machine"]["load_average_at_end"] = os.getloadavg()
    report["workers"] = restarts
    report["emails_sent_to_sink"] = mail.received
    Path(args.output).write_text(json.dumps(report, indent=2, default=str) + "\n")
    Path(args.output).with_suffix(".md").write_text(_markdown(report))
    _print(report)
    log(f"written to {args.output}")
    return 0 if all(target["met"] for target in report["targets"]) else 1


def _seeded(database: Database) -> bool:
    try:
        return database.scalar("SELECT count(*) FROM incidents_incident") >= FULL.incidents
    except Exception:
        return False


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _assemble(*, rounds, results, evaluation, probes, personas, months) -> dict:
    reference = {
        name: sum(r.throughput for r in runs) / len(runs) for name, runs in rounds.items()
    }
    endpoints = []
    for name, runs in rounds.items():
        for number, result in enumerate(runs, start=1):
            endpoints.append({**result.as_dict(), "name": f"baseline {name} (round {number})"})
    targets = []

    def target(name: str, met: bool, figure: str) -> None:
        targets.append({"name": name, "met": bool(met), "figure": figure})

    filing = results["filing"]
    share = filing.throughput / reference["insert"]
    endpoints.append({**filing.as_dict(), "baseline": "insert", "ratio": round(share, 3)})
    target(
        f"filing >= {FILING_SHARE_OF_INSERT:.0%} of the one-INSERT baseline",
        share >= FILING_SHARE_OF_INSERT,
        f"{filing.throughput:.0f}/s vs {reference['insert']:.0f}/s = {share:.0%}",
    )
    for name in (
        "my incidents",
        "supervisor queue",
        "alert list",
        "patient timeline",
        "script library",
    ):
        result = results[name]
        share = result.throughput / reference["list"]
        endpoints.append({**result.as_dict(), "baseline": "list", "ratio": round(share, 3)})
        target(
            f"{name} >= {PAGE_SHARE_OF_LIST:.0%} of the 50-row list, p99 < {PAGE_P99_MS} ms",
            share >= PAGE_SHARE_OF_LIST and result.p99_ms < PAGE_P99_MS,
            f"{result.throughput:.0f}/s vs {reference['list']:.0f}/s = {share:.0%}, "
            f"p99 {result.p99_ms:.0f} ms",
        )
    floor = results["signed-in floor"]
    endpoints.append(
        {
            **floor.as_dict(),
            "baseline": "list",
            "ratio": round(floor.throughput / reference["list"], 3),
        }
    )
    for name in ("monthly PDF, organisation", "monthly PDF, one unit"):
        endpoints.append({**results[name].as_dict(), "baseline": None, "ratio": None})
    target(
        f"pattern evaluation at filing < {EVALUATION_MS} ms (p99)",
        evaluation["p99_ms"] < EVALUATION_MS,
        f"p50 {evaluation['p50_ms']:.1f} ms, p99 {evaluation['p99_ms']:.1f} ms "
        f"over {evaluation['filings']} filings (waiting for PostgreSQL: p50 "
        f"{evaluation['database_p50_ms']:.1f} ms over {evaluation['round_trips_p50']} "
        f"round trips; a bare SELECT 1 here: p50 {evaluation['select_1_p50_ms']:.2f} ms, "
        f"p99 {evaluation['select_1_p99_ms']:.2f} ms)",
    )
    pdf = {}
    for (scope, label), runs in probes.items():
        cold = [run["runs"][0]["total_seconds"] for run in runs]
        warm = [run["runs"][-1]["total_seconds"] for run in runs]
        build = [run["runs"][-1]["build_seconds"] for run in runs]
        pdf[f"{scope}, {label} month"] = {
            "incidents": runs[0]["runs"][0]["incidents"],
            "first_render_seconds": _median(cold),
            "later_render_seconds": _median(warm),
            "build_seconds": _median(build),
            "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
            "pdf_bytes": runs[0]["pdf_bytes"],
        }
    notes = []
    for scope in ("organisation", "one unit"):
        large, small = pdf[f"{scope}, large month"], pdf[f"{scope}, small month"]
        # Judged on a worker that has made a PDF before; the first PDF of each process
        # also imports WeasyPrint, matplotlib and NumPy (shown beside it).
        target(
            f"monthly PDF ({scope}) < {PDF_SECONDS} s and < {PDF_MEGABYTES} MB",
            large["later_render_seconds"] < PDF_SECONDS and large["peak_rss_mb"] < PDF_MEGABYTES,
            f"{large['later_render_seconds']:.2f} s (a process's first PDF: "
            f"{large['first_render_seconds']:.2f} s), {large['peak_rss_mb']:.0f} MB peak, "
            f"{large['incidents']} incidents",
        )
        ratio = large["later_render_seconds"] / small["later_render_seconds"]
        figure = (
            f"{large['incidents']} incidents {large['later_render_seconds']:.2f} s vs "
            f"{small['incidents']} incidents {small['later_render_seconds']:.2f} s "
            f"= {ratio:.2f}x (figures {large['build_seconds']:.2f} s vs "
            f"{small['build_seconds']:.2f} s)"
        )
        if scope == "organisation":
            target(
                f"monthly PDF flat: a {large['incidents']:,}-incident month within "
                f"{PDF_FLATNESS}x of a {small['incidents']:,}-incident one",
                ratio <= PDF_FLATNESS,
                figure,
            )
        else:
            # A unit's months hold a fiftieth of the organisation's: not the target's
            # sizes, and a small month's document has fewer rows to lay out.
            notes.append(f"monthly PDF (one unit), large against small month: {figure}")
    notes.append(
        f"the signed-in floor (a supervisor's lightest page, no data): "
        f"{floor.throughput:.0f}/s = {floor.throughput / reference['list']:.0%} of the "
        f"50-row list and {floor.throughput / reference['insert']:.0%} of the one-INSERT "
        "baseline, before a page or a filing does any work of its own"
    )
    notes.append(
        f"the bare 50-row list itself: p99 {rounds['list'][-1].p99_ms:.0f} ms at "
        f"{rounds['list'][-1].connections} connections (latency there is mostly queueing)"
    )
    return {
        "notes": notes,
        "baselines": {name: round(value, 1) for name, value in reference.items()},
        "endpoints": endpoints,
        "evaluation": evaluation,
        "pdf": pdf,
        "months": {"large": str(months[0]), "small": str(months[1])},
        "personas": {
            "list_reporter": personas.list_reporter.username,
            "filers": [person.username for person in personas.filers],
            "supervisor": personas.supervisor.username,
            "manager": personas.manager.username,
            "report_unit": personas.report_unit.code,
        },
        "targets": targets,
    }


def _markdown(report: dict) -> str:
    """The figures as the tables of docs/operations.md ("Latest benchmark run")."""
    machine_report = report["machine"]
    lines = [
        f"Run on {time.strftime('%Y-%m-%d')}: {machine_report['cpus']} CPUs "
        f"({machine_report['cpu_model']}), {machine_report['memory_gib']} GiB, "
        f"{machine_report['system']}, Python {machine_report['python']}, PostgreSQL on "
        f"the same machine; gunicorn with {report['settings']['workers']} sync workers, wrk "
        f"with {report['settings']['connections']} connections for "
        f"{report['settings']['seconds']:g} s per endpoint. Load average "
        f"{machine_report['load_average_at_start'][0]:.1f} at the start and "
        f"{machine_report['load_average_at_end'][0]:.1f} at the end (other work shared "
        "the machine).",
        "",
        "| Endpoint | Requests/s | p50 ms | p99 ms | Against | Ratio |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in report["endpoints"]:
        ratio = f"{row['ratio']:.0%}" if row.get("ratio") is not None else ""
        lines.append(
            f"| {row['name']} | {row['throughput']:.1f} | {row['p50_ms']:.0f} | "
            f"{row['p99_ms']:.0f} | {row.get('baseline') or ''} | {ratio} |"
        )
    lines += ["", "| Target | Met | Figures |", "| --- | --- | --- |"]
    for target in report["targets"]:
        lines.append(
            f"| {target['name']} | {'yes' if target['met'] else '**no**'} | {target['figure']} |"
        )
    lines += ["", *[f"- {note}" for note in report["notes"]], ""]
    return "\n".join(lines)


def _print(report: dict) -> None:
    print()
    print(f"{'endpoint':42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs':>8} {'ratio':>7}")
    for row in report["endpoints"]:
        ratio = f"{row['ratio']:.0%}" if row.get("ratio") is not None else ""
        print(
            f"{row['name']:42} {row['throughput']:8.1f} {row['p50_ms']:8.1f} "
            f"{row['p99_ms']:8.1f} {row.get('baseline') or '':>8} {ratio:>7}"
        )
    print()
    for target in report["targets"]:
        print(f"[{'met' if target['met'] else 'NOT MET':>7}] {target['name']}: {target['figure']}")
    for note in report["notes"]:
        print(f"[   info] {note}")
    print()
    machine_report = report["machine"]
    print(
        f"Machine: {machine_report['cpus']} CPUs ({machine_report['cpu_model']}), "
        f"{machine_report['memory_gib']} GiB; load average at start "
        f"{machine_report['load_average_at_start'][0]:.1f}, at end "
        f"{machine_report['load_average_at_end'][0]:.1f}."
    )


if __name__ == "__main__":
    sys.exit(main())
