"""``make backup-check``: back a seeded database up with pg_dump, restore it with
pg_restore into a new database, and prove the copy is the same.

    python -m tests.bench.backup_roundtrip [--full]

1. Seeds a source database (a tenth of the benchmark's size, or all of it with
   ``--full``) and files reports through the filing service, so that the audit trail
   holds real hash-chained events, alerts included.
2. ``pg_dump --format=custom`` of the source; ``pg_restore`` into an empty database.
3. Compares, table by table, the row counts, and for the incidents and the audit trail
   a checksum of every row (the MD5 of each row's text, in id order); compares the
   identity sequences, so that new rows in the copy cannot reuse an id.
4. Runs ``manage.py verify_audit --expect-last <the source's last hash>`` against the
   copy: the chain is intact and ends where the original's did.

This is the procedure of docs/operations.md ("Backup and restore"), run end to end.
Prints each figure, writes bench-results/backup.json, exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from tests.bench.seed import FULL, SMALL, password_hash, prepare, seed
from tests.bench.stack import RESULTS, Database, Settings, log, wait_for_postgres

DEFAULT_SOURCE = "postgres://root@127.0.0.1:5432/boundaries_backup_source"
DEFAULT_COPY = "boundaries_backup_copy"
CHECKSUMMED = ("incidents_incident", "boundaries_auditevent")
FILINGS = 300


def file_reports(count: int) -> None:
    """Reports through the filing service, as the form files them: incidents, witnesses,
    alerts and their audit events."""
    import random

    from django.utils import timezone

    from boundaries.models import Role, User
    from incidents import services
    from incidents.models import Channel, Patient, RequestType
    from scripts_library.models import ScriptVersion

    rng = random.Random(6)
    reporters = list(User.objects.filter(role=Role.REPORTER).order_by("pk")[:40])
    references = list(Patient.objects.order_by("pk").values_list("reference", flat=True)[:300])
    types = list(RequestType.objects.all())
    channel = Channel.objects.get(code="in-person")
    script = ScriptVersion.objects.offered().first()
    for _ in range(count):
        reporter = rng.choice(reporters)
        services.log_incident(
            reporter=reporter,
            token=uuid.uuid4(),
            unit=reporter.memberships.get(is_primary=True).unit,
            occurred_at=timezone.now() - timedelta(minutes=rng.randint(5, 600)),
            location="Bay 1",
            other_party="patient",
            patient_reference=rng.choice(references),
            request_type=rng.choice(types),
            channel=channel,
            description="Filed for the backup round trip.",
            script_version=script,
            own_words="",
            person_response=rng.choice(["accepted", "asked_again", "escalated"]),
            witnesses=[services.WitnessDetails(name="A. Trevena", role="staff")],
            notify=False,
        )


def tables(database: Database) -> list[str]:
    with contextlib.closing(database.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return [row[0] for row in cursor.fetchall()]


def fingerprint(database: Database) -> dict:
    """Row counts of every table, row checksums of the incidents and the audit trail,
    and where each identity sequence stands."""
    from psycopg2 import sql

    result: dict = {"rows": {}, "checksums": {}, "sequences": {}}
    with contextlib.closing(database.connect()) as connection, connection.cursor() as cursor:
        for table in tables(database):
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            result["rows"][table] = cursor.fetchone()[0]
        for table in CHECKSUMMED:
            cursor.execute(
                sql.SQL(
                    "SELECT md5(string_agg(md5(t::text), '' ORDER BY t.id)) FROM {} AS t"
                ).format(sql.Identifier(table))
            )
            result["checksums"][table] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = 'public' ORDER BY sequencename"
        )
        result["sequences"] = dict(cursor.fetchall())
        cursor.execute("SELECT hash FROM boundaries_auditevent ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
        result["last_audit_hash"] = row[0] if row else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BACKUP_DATABASE_URL", DEFAULT_SOURCE)
    )
    parser.add_argument("--full", action="store_true", help="1,000,000 incidents")
    parser.add_argument("--output", default=str(RESULTS / "backup.json"))
    args = parser.parse_args()

    RESULTS.mkdir(exist_ok=True)
    source = Database(args.database_url)
    copy = source.with_name(DEFAULT_COPY)
    wait_for_postgres(source)
    settings = Settings(database=source, static_root=Path(tempfile.gettempdir()))
    os.environ.update(settings.environ())
    import django

    django.setup()
    from django.db import connections

    log("seeding the source database")
    prepare(settings)
    seed(source, FULL if args.full else SMALL, password_hash=password_hash(secrets.token_hex(8)))
    log(f"filing {FILINGS} reports through the filing service")
    file_reports(FILINGS)
    connections.close_all()
    before = fingerprint(source)

    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="boundaries-backup-") as folder:
        dump = Path(folder) / "boundaries.dump"
        started = time.monotonic()
        subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source.url],
            check=True,
        )
        report["dump_seconds"] = round(time.monotonic() - started, 1)
        report["dump_megabytes"] = round(dump.stat().st_size / 2**20, 1)
        log(f"pg_dump: {report['dump_megabytes']} MB in {report['dump_seconds']} s")
        copy.recreate()
        started = time.monotonic()
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                "--jobs=2",
                "--dbname",
                copy.url,
                str(dump),
            ],
            check=True,
        )
        report["restore_seconds"] = round(time.monotonic() - started, 1)
        log(f"pg_restore: {report['restore_seconds']} s")
    after = fingerprint(copy)
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_audit", "--expect-last", before["last_audit_hash"]],
        env={**settings.environ(), "DATABASE_URL": copy.url},
        capture_output=True,
        text=True,
        check=False,
    )
    copy.drop()

    differences = [
        f"{table}: {before['rows'][table]} rows, copy {after['rows'].get(table)}"
        for table in before["rows"]
        if before["rows"][table] != after["rows"].get(table)
    ]
    differences += [
        f"{table}: checksums differ"
        for table in CHECKSUMMED
        if before["checksums"][table] != after["checksums"][table]
    ]
    differences += [
        f"sequence {name} at {value}, copy at {after['sequences'].get(name)}"
        for name, value in before["sequences"].items()
        if after["sequences"].get(name) != value
    ]
    if verify.returncode != 0:
        differences.append(f"verify_audit on the copy: {verify.stderr.strip()[-300:]}")
    report.update(
        {
            "tables": len(before["rows"]),
            "rows": sum(before["rows"].values()),
            "incidents": before["rows"]["incidents_incident"],
            "audit_events": before["rows"]["boundaries_auditevent"],
            "checksums": before["checksums"],
            "last_audit_hash": before["last_audit_hash"],
            "verify_audit": verify.stdout.strip()[-300:],
            "differences": differences,
        }
    )
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print()
    for name in (
        "tables",
        "rows",
        "incidents",
        "audit_events",
        "dump_megabytes",
        "dump_seconds",
        "restore_seconds",
    ):
        print(f"  {name:20} {report[name]}")
    for table, checksum in report["checksums"].items():
        print(
            f"  {table:20} checksum {checksum} (the same in the copy: "
            f"{after['checksums'][table] == checksum})"
        )
    print(f"  verify_audit         {report['verify_audit'] or verify.stderr.strip()[-200:]}")
    print()
    print("Round trip: " + ("identical" if not differences else "DIFFERENT"))
    for line in differences:
        print(f"  {line}")
    return 0 if not differences else 1


if __name__ == "__main__":
    sys.exit(main())
