"""Seed a fresh, migrated database with seed.sql: set-based SQL, no ORM row by row.

    python -m tests.bench.seed --database-url postgres://root@127.0.0.1:5432/boundaries_bench

makes the database again from nothing (migrations, the starting script library), loads
the full scale (1,000,000 incidents) and prints how long each step took.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.bench.stack import TIME_ZONE, Database, Settings, log

SEED_SQL = Path(__file__).with_name("seed.sql")
_STEP = re.compile(r"^-- step: (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Scale:
    units: int
    staff: int
    patients: int
    repeaters: int
    incidents: int
    months: int
    big_month: int
    small_month: int


FULL = Scale(
    units=50,
    staff=5000,
    patients=200_000,
    repeaters=2_000,
    incidents=1_000_000,
    months=36,
    big_month=100_000,
    small_month=10_000,
)
# For the backup round trip and quick trials: the same shape, a tenth of the size.
SMALL = Scale(
    units=10,
    staff=500,
    patients=20_000,
    repeaters=200,
    incidents=100_000,
    months=36,
    big_month=10_000,
    small_month=1_000,
)


# Steps that take the indexes and constraints away and build them again afterwards:
# worth it for a million rows, skipped for the few thousand the plan tests load.
BULK_STEPS = {"drop secondary indexes and constraints", "indexes", "foreign keys"}


def steps(*, bulk: bool = True) -> list[tuple[str, str]]:
    """(name, SQL) for each step of seed.sql, in order."""
    text = SEED_SQL.read_text()
    names = _STEP.findall(text)
    bodies = _STEP.split(text)[2::2]
    return [
        (name, body)
        for name, body in zip(names, bodies, strict=True)
        if bulk or name not in BULK_STEPS
    ]


def load(cursor, scale: Scale, *, password_hash: str, bulk: bool = False) -> None:
    """Run seed.sql on a DB-API cursor, inside the caller's transaction: the plan tests
    load a small scale this way into the test database, then ANALYZE."""
    params = {**asdict(scale), "password_hash": password_hash, "time_zone": TIME_ZONE}
    for _name, body in steps(bulk=bulk):
        cursor.execute(body, params)


def prepare(settings: Settings) -> None:
    """An empty database with the schema and the starting script library."""
    settings.database.recreate()
    settings.manage("migrate", "--no-input")
    settings.manage("load_scripts")


def seed(database: Database, scale: Scale, *, password_hash: str) -> dict[str, float]:
    """Run seed.sql against a prepared database; returns seconds per step."""
    params = {**asdict(scale), "password_hash": password_hash, "time_zone": TIME_ZONE}
    timings: dict[str, float] = {}
    with contextlib.closing(database.connect()) as connection:
        backend = _Backend(connection)
        with connection.cursor() as cursor:
            # Room for the temporary tables, and for the sorts that build indexes.
            cursor.execute("SET temp_buffers = '512MB'")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute("SET work_mem = '256MB'")
        connection.commit()
        for name, body in steps():
            started, cpu = time.perf_counter(), backend.cpu_seconds()
            with connection.cursor() as cursor:
                cursor.execute(body, params)
            connection.commit()
            timings[name] = time.perf_counter() - started
            log(f"seed: {name} ({timings[name]:.1f} s, {backend.cpu_seconds() - cpu:.1f} s CPU)")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM incidents_incident")
            loaded = cursor.fetchone()[0]
        connection.commit()
        if loaded != scale.incidents:
            raise RuntimeError(f"seeded {loaded} incidents instead of {scale.incidents}")
        connection.autocommit = True
        started, cpu = time.perf_counter(), backend.cpu_seconds()
        with connection.cursor() as cursor:
            # Statistics for the planner, and the visibility map for index-only scans.
            cursor.execute("VACUUM (ANALYZE)")
        timings["vacuum analyze"] = time.perf_counter() - started
        log(
            f"seed: vacuum analyze ({timings['vacuum analyze']:.1f} s, "
            f"{backend.cpu_seconds() - cpu:.1f} s CPU)"
        )
    return timings


class _Backend:
    """The CPU time of the PostgreSQL process serving a connection, when it runs on
    this machine: on a busy machine it tells the seed's own cost from the wait."""

    def __init__(self, connection) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def cpu_seconds(self) -> float:
        try:
            fields = self.stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        ticks = int(fields[11]) + int(fields[12])  # utime and stime
        return ticks / os.sysconf("SC_CLK_TCK")


def password_hash(password: str) -> str:
    """The production hasher's hash of ``password`` (every seeded person shares it)."""
    from django.contrib.auth.hashers import make_password

    return make_password(password)


def main() -> None:
    import secrets

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://root@127.0.0.1:5432/boundaries_bench"
    )
    parser.add_argument("--small", action="store_true", help="a tenth of the full size")
    args = parser.parse_args()

    import django

    database = Database(args.database_url)
    settings = Settings(database=database, static_root=Path("/nonexistent"))
    os.environ.update(settings.environ())
    django.setup()
    started = time.perf_counter()
    prepare(settings)
    log(f"schema and script library ({time.perf_counter() - started:.1f} s)")
    timings = seed(
        database,
        SMALL if args.small else FULL,
        password_hash=password_hash(secrets.token_urlsafe(16)),
    )
    log(f"seeded in {sum(timings.values()):.1f} s (plus the schema)")


if __name__ == "__main__":
    main()
