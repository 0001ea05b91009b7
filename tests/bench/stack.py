"""The pieces every harness here needs: a throwaway PostgreSQL database, production
settings in the environment, gunicorn serving the app, and a mail sink.

Databases are dropped and created again on every run, so this module only ever drops a
database that it created itself: it marks each one with a comment and refuses to touch
a database without that mark.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"
PYTHON = sys.executable
MARK = "Throwaway database made by tests/bench; dropped and recreated on every run."
TIME_ZONE = "Europe/London"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Database:
    """A PostgreSQL database named by a URL such as postgres://root@127.0.0.1:5432/x."""

    url: str

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    def with_name(self, name: str) -> Database:
        parts = urlsplit(self.url)
        return Database(urlunsplit(parts._replace(path=f"/{name}")))

    def connect(self, *, autocommit: bool = False):
        connection = psycopg2.connect(self.url)
        connection.autocommit = autocommit
        return connection

    def _maintenance(self):
        return self.with_name("postgres").connect(autocommit=True)

    def recreate(self) -> None:
        """Drop the database (only one this module made) and create it empty."""
        with contextlib.closing(self._maintenance()) as connection, connection.cursor() as cur:
            cur.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                [self.name],
            )
            row = cur.fetchone()
            if row is not None:
                if row[0] != MARK:
                    raise SystemExit(
                        f"Refusing to drop database {self.name!r}: it was not made by "
                        "tests/bench. Choose another name (BENCH_DATABASE_URL)."
                    )
                cur.execute(
                    sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(self.name))
                )
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
            cur.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(self.name), sql.Literal(MARK)
                )
            )

    def drop(self) -> None:
        with contextlib.closing(self._maintenance()) as connection, connection.cursor() as cur:
            cur.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                [self.name],
            )
            row = cur.fetchone()
            if row is not None and row[0] == MARK:
                cur.execute(
                    sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(self.name))
                )

    def scalar(self, query: str, params=None):
        with contextlib.closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchone()[0]


def wait_for_postgres(database: Database, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            database.with_name("postgres").connect().close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise SystemExit(
                    "PostgreSQL does not answer on "
                    f"{urlsplit(database.url).netloc}. Start it, for example with: "
                    "pg_ctlcluster --skip-systemctl-redirect 15 main start"
                ) from None
            time.sleep(0.5)


@dataclass
class Settings:
    """Production settings for the app and its commands, as environment variables."""

    database: Database
    static_root: Path
    mail_port: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))

    def environ(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_URL", "EMAIL_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "boundaries.settings",
                "DATABASE_URL": self.database.url,
                "DJANGO_SECRET_KEY": self.secret_key,
                "DJANGO_DEBUG": "false",
                # Plain HTTP on the loopback: no HTTPS redirect, no Secure cookies.
                "DJANGO_HTTPS": "false",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_MANIFEST_STATIC": "true",
                "DJANGO_STATIC_ROOT": str(self.static_root),
                "DJANGO_CONN_MAX_AGE": "60",
                "DJANGO_LOG_LEVEL": "WARNING",
                "TIME_ZONE": TIME_ZONE,
                "SITE_URL": "http://127.0.0.1",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_USE_TLS": "false",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        if self.mail_port:
            # The benchmark's mail sink; without one (the backup check sends nothing), the
            # default port, which nothing on this machine answers.
            env["EMAIL_PORT"] = str(self.mail_port)
        env.update(self.extra)
        return env

    def manage(self, *args: str, quiet: bool = True) -> str:
        """Run a manage.py command with these settings; its output, or SystemExit."""
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.environ(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(
                f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        if not quiet:
            print(result.stdout, end="")
        return result.stdout


@contextlib.contextmanager
def static_root() -> Iterator[Path]:
    """A temporary STATIC_ROOT for collectstatic (hashed, compressed files)."""
    path = Path(tempfile.mkdtemp(prefix="boundaries-bench-static-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn serving a WSGI application on 127.0.0.1, with sync workers."""

    def __init__(
        self,
        settings: Settings,
        *,
        app: str,
        workers: int,
        log_path: Path,
        ready_path: str = "/healthz",
        timeout: int = 60,
    ) -> None:
        self.settings = settings
        self.app = app
        self.ready_path = ready_path
        self.workers = workers
        self.port = free_port()
        self.log_path = log_path
        self.timeout = timeout
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(Path(PYTHON).with_name("gunicorn")),
                self.app,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--timeout",
                str(self.timeout),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.settings.environ(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log_path}")
            try:
                # An http:// address on the loopback that this class built.
                with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=5) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """The master's children (the workers), from /proc."""
        pids = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
            if fields.get("PPid", "").strip() == str(self.process.pid):
                pids.append(int(fields["Pid"].strip()))
        return sorted(pids)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class MailSink:
    """An SMTP server on the loopback that accepts and counts messages, so that the
    app's notification emails cost what a nearby relay costs, and go nowhere."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self.received += 1
        return "250 OK"

    def __enter__(self) -> MailSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (which need not be sorted)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]
