"""What an operator meets on a fresh clone and from cron (found by an operator's
review): the demo's one command, the monthly report's file and unit, the digest's exit
status, and the demo loader on a production configuration."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.boundaries.test_settings import run_django
from tests.factories import IncidentFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
PROD = {
    "DJANGO_SECRET_KEY": "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
    "DJANGO_ALLOWED_HOSTS": "boundaries.example.org",
    "SITE_URL": "https://boundaries.example.org",
    "EMAIL_HOST": "smtp.example.org",
}


def test_make_run_passes_any_generated_demo_password_to_seed_demo(tmp_path):
    """`make run` writes secrets.token_urlsafe(12) to var/demo-password (1 in 64 start
    with "-") and passes it as `--password "$(cat var/demo-password)"`: argparse takes a
    leading "-" for an option, seed_demo exits 2 ("expected one argument"), and since
    the file is kept, every later `make run` fails the same way."""
    from boundaries.management.commands.seed_demo import Command

    makefile = (ROOT / "Makefile").read_text()
    recipe = next(line for line in makefile.splitlines() if "seed_demo" in line)
    arguments = recipe.split("seed_demo", 1)[1]
    password_file = tmp_path / "demo-password"
    password_file.write_text("-dNqv8bKPPFZ4kLc\n")  # one that make run generated
    arguments = arguments.replace("$$", "$").replace("var/demo-password", str(password_file))
    # The Makefile's own recipe, expanded by bash as make would: what argparse is given.
    argv = subprocess.run(  # noqa: S603
        ["/bin/bash", "-c", f'printf "%s\\0" {arguments}'],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")[:-1]
    parser = Command().create_parser("manage.py", "seed_demo")
    options = parser.parse_args([arg.decode() for arg in argv])
    assert options.password == "-dNqv8bKPPFZ4kLc"


class RelayRefused:
    """As smtplib meets EMAIL_HOST=127.0.0.1 EMAIL_PORT=1."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        raise ConnectionRefusedError(111, "Connection refused")

    def close(self):
        pass

    def send_messages(self, messages):
        self.open()


@pytest.mark.django_db
def test_digest_run_with_the_relay_down_exits_non_zero(settings, unit, supervisor, capsys):
    """Cron sees status 0 and "Digests sent for 3 incident(s)." while nothing was sent,
    and "not sent ...: 1" while three emails wait (it stops at the first failure)."""
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RelayRefused"}}
    for address in ("a@example.org", "b@example.org"):
        UserFactory(role="supervisor", units=[unit], email=address)
    IncidentFactory.create_batch(3, reporter=UserFactory(units=[unit]), notified_at=None)
    with pytest.raises(CommandError):
        call_command("send_incident_digests")
    output = capsys.readouterr().out
    assert not re.search(r"Digests sent for [1-9]", output), output


@pytest.mark.django_db
def test_an_empty_unit_code_is_refused_not_read_as_the_whole_organisation(tmp_path, unit):
    """`--unit "$UNIT"` with UNIT empty writes (and with --email sends every manager)
    the organisation's summary instead of failing."""
    with pytest.raises(CommandError):
        call_command("monthly_report", unit="", output=str(tmp_path) + "/")
    assert list(tmp_path.iterdir()) == []


class FillsTheDisk:
    """A file that takes half of what is written, then reports a full disk."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def fileno(self):
        return self.file.fileno()

    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.django_db
def test_a_failed_write_leaves_last_runs_report_and_no_truncated_one(tmp_path, monkeypatch, unit):
    """Reproduced on a 32 KB tmpfs: "CommandError: Could not write ...: No space left on
    device." and a 32,768-byte boundaries-monthly-2026-10-organisation.pdf (of 69,593)
    left in the folder; the file is opened with O_TRUNC, so a good copy from an earlier
    run is destroyed first."""
    import os

    from incidents.reports import Month

    name = f"boundaries-monthly-{Month.last_completed()}-organisation.pdf"
    earlier = tmp_path / name
    earlier.write_bytes(b"%PDF-1.7 the report an earlier run wrote")
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FillsTheDisk(real_fdopen(fd, mode)))
    with pytest.raises(CommandError, match="No space left"):
        call_command("monthly_report", output=str(tmp_path) + "/")
    assert [path.name for path in tmp_path.iterdir()] == [name]
    assert earlier.read_bytes() == b"%PDF-1.7 the report an earlier run wrote"


def test_seed_demo_refuses_to_run_with_debug_off(tmp_path):
    """ "For demonstrations only, never on a real deployment" is only said: with the
    production settings (DJANGO_DEBUG unset) it adds a superuser `admin` and a manager
    with the password it prints, and invented incidents that join the real monthly
    figures."""
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}"}
    assert run_django("migrate", "--no-input", **PROD, **database).returncode == 0
    result = run_django("seed_demo", "--months", "1", **PROD, **database)
    assert result.returncode != 0, result.stdout[-400:]
    assert "DJANGO_DEBUG is off" in result.stderr
    # A demonstration server set up like production says so.
    shown = run_django("seed_demo", "--months", "1", "--without-debug", **PROD, **database)
    assert shown.returncode == 0, shown.stderr[-400:]


@pytest.mark.django_db
def test_the_report_follows_a_link_and_writes_to_what_is_not_a_file(tmp_path, unit):
    """Found by review: written beside the name and renamed, the report replaced a link
    given as --output with a file of its own (the file linked to stayed old), and would
    have tried to replace /dev/stdout."""
    kept = tmp_path / "reports" / "latest.pdf"
    kept.parent.mkdir()
    kept.write_bytes(b"old")
    link = tmp_path / "latest.pdf"
    link.symlink_to(kept)
    call_command("monthly_report", output=str(link))
    assert link.is_symlink() and kept.read_bytes().startswith(b"%PDF")

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    call_command("monthly_report", output=str(pipe))
    reader.join(10)
    assert received and received[0].startswith(b"%PDF")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["latest.pdf", "pipe", "reports"]


@pytest.mark.django_db
def test_a_killed_runs_partial_file_is_removed_by_the_next_run(tmp_path, unit):
    """A run killed while writing (SIGKILL, a power cut) left its hidden ``.part`` file
    for good: nothing removed it. The next run removes one that is an hour old, and
    leaves alone one that another run may be writing now, and other files."""
    from incidents.reports import Month

    name = f"boundaries-monthly-{Month.last_completed()}-organisation.pdf"
    abandoned = tmp_path / f".{name}.k1ll3d.part"
    abandoned.write_bytes(b"%PDF-1.7 half of a rep")
    hours_ago = time.time() - 2 * 3600
    os.utime(abandoned, (hours_ago, hours_ago))
    being_written = tmp_path / f".{name}.n0w.part"
    being_written.write_bytes(b"%PDF-1.7 another run")
    other_report = tmp_path / ".boundaries-monthly-2020-01-organisation.pdf.0ld.part"
    other_report.write_bytes(b"not this report's")
    os.utime(other_report, (hours_ago, hours_ago))

    call_command("monthly_report", output=str(tmp_path) + "/")

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [name, being_written.name, other_report.name]
    )


@pytest.mark.django_db
def test_a_partial_file_that_cannot_be_removed_does_not_fail_the_report(
    tmp_path, monkeypatch, unit
):
    """Found by review: removing an old partial that is not ours to remove (another
    account's, in a shared folder) stopped every run with "Could not write ...:
    Operation not permitted", naming the report's own path."""
    from incidents.reports import Month

    name = f"boundaries-monthly-{Month.last_completed()}-organisation.pdf"
    stuck = tmp_path / f".{name}.0th3r.part"
    stuck.write_bytes(b"another account's")
    hours_ago = time.time() - 2 * 3600
    os.utime(stuck, (hours_ago, hours_ago))
    real_unlink = Path.unlink

    def refused(path, *args, **kwargs):
        if path == stuck:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", refused)
    call_command("monthly_report", output=str(tmp_path) + "/")

    assert (tmp_path / name).read_bytes().startswith(b"%PDF")
    assert stuck.exists()
