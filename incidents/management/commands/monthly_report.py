"""Generate the monthly summary PDF from cron, and optionally email a link to it."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from boundaries import audit
from boundaries.management.base import DatabaseCommand
from boundaries.models import AuditEvent, Unit, User
from incidents import notifications, reports
from incidents.models import QueuedEmail
from incidents.reports import MalformedMonth, Month

logger = logging.getLogger(__name__)


class Command(DatabaseCommand):
    help = (
        "Write the monthly summary PDF for a calendar month (local time), for the whole "
        "organisation or one unit: the same document managers download from /reports/. "
        "With --email, email every active manager (organisation, or a closed unit) or "
        "the unit's supervisors a link to the month's summary in the app (the PDF stays "
        "behind the sign-in), through the outbox: an email the mail server does not take "
        "is sent by send_incident_digests. Give --output, --email or both. "
        "Example for cron on the 1st of each month: "
        "manage.py monthly_report --output /var/lib/boundaries/reports/ --email"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--month",
            help="The month as YYYY-MM, for example 2026-10. Default: last month.",
        )
        parser.add_argument(
            "--unit",
            metavar="CODE",
            help="A unit's code, for example WARD-7. Default: the whole organisation.",
        )
        parser.add_argument(
            "--output",
            metavar="PATH",
            help=(
                "Where to write the PDF: a file, or an existing folder to write it in "
                "under its usual name (boundaries-monthly-2026-10-WARD-7.pdf)."
            ),
        )
        parser.add_argument(
            "--email",
            action="store_true",
            help="Email a link to the summary to the managers, or to the unit's supervisors.",
        )
        parser.add_argument(
            "--again",
            action="store_true",
            help=(
                "With --email: email the link once more for a month and unit it was "
                "emailed for already (refused otherwise: everyone would get it twice)."
            ),
        )

    def handle(
        self,
        *args,
        month: str | None,
        unit: str | None,
        output: str | None,
        email: bool,
        again: bool = False,
        **options,
    ) -> None:
        if not output and not email:
            raise CommandError("Say where the report goes: --output PATH, --email, or both.")
        try:
            chosen = Month.parse(month) if month else Month.last_completed()
        except MalformedMonth as error:
            raise CommandError(f"--month {month!r}: {error}") from None
        scope_unit = None
        if unit is not None:
            if not unit.strip():
                # A cron line's --unit "$UNIT" with UNIT unset must not become the whole
                # organisation's summary, emailed to every manager.
                raise CommandError(
                    "--unit is empty: give a unit's code, or leave --unit out for the "
                    "whole organisation."
                )
            scope_unit = Unit.objects.filter(code=unit.strip().upper()).first()
            if scope_unit is None:
                raise CommandError(f"There is no unit with the code {unit!r}.")

        folder = self._folder(output) if output else None
        recipients = self._recipients(scope_unit) if email else []
        if email and not again:
            self._not_emailed_yet(chosen, scope_unit)

        if output:
            summary = reports.monthly_summary(
                month=chosen, unit=scope_unit, generated_by=reports.SCHEDULED_JOB
            )
            pdf = reports.render_monthly_summary(summary)
            path = folder / summary.filename if folder else Path(output)
            try:
                _write_private(path, pdf)
            except OSError as error:
                raise CommandError(f"Could not write {path}: {error.strerror}.") from None
            audit.record(
                action=audit.Action.REPORT_EXPORTED,
                unit=scope_unit,
                about=("month", str(chosen)),
            )
            self.stdout.write(f"Wrote {path} ({len(pdf):,} bytes).")
        if email:
            # An email carries a link, not the report: opening it is the export, recorded
            # with the reader's download.
            self._email(chosen, scope_unit, recipients)

    @staticmethod
    def _folder(output: str) -> Path | None:
        """The folder to write into when ``output`` names one (it exists, or ends with a
        slash: then it must exist), else None; checked before the report is drawn."""
        path = Path(output)
        if path.is_dir():
            return path
        if output.endswith(("/", os.sep)):
            raise CommandError(f"There is no folder {path}: create it first.")
        if not path.parent.is_dir():
            raise CommandError(f"There is no folder {path.parent} to write {path.name} in.")
        return None

    @staticmethod
    def _recipients(unit: Unit | None) -> list[User]:
        recipients = notifications.monthly_summary_readers(unit)
        if not recipients:
            raise CommandError("Nobody to email: no active person with an email address.")
        return recipients

    @staticmethod
    def _not_emailed_yet(month: Month, unit: Unit | None) -> None:
        """Refuse a second email of one month's summary (a run repeated after a failure):
        its emails were written, and those not sent are in the outbox."""
        emailed = AuditEvent.objects.filter(
            action=audit.Action.REPORT_EMAILED,
            unit=unit,
            object_type="month",
            object_id=str(month),
        ).first()
        if emailed is not None:
            raise CommandError(
                f"The summary for {month} was emailed already, on "
                f"{timezone.localtime(emailed.occurred_at):%d %B %Y at %H:%M}; those emails "
                "not yet sent wait in the outbox for send_incident_digests. Add --again to "
                "email everyone once more."
            )

    def _email(self, month: Month, unit: Unit | None, recipients: list[User]) -> None:
        """Queue each person's email (recorded in the audit trail with them) and hand
        them to the mail server. What it does not take waits in the outbox for
        send_incident_digests, and fails the run: it comes once a month, and whoever
        runs it should know who has not had the summary yet."""
        with transaction.atomic():
            ids = notifications.monthly_summary_ready(
                month=month, unit=unit, recipients=recipients
            )
            audit.record(
                action=audit.Action.REPORT_EMAILED, unit=unit, about=("month", str(month))
            )
        delivery = notifications.deliver(ids=ids)
        if delivery.sent:
            people = "person" if delivery.sent == 1 else "people"
            self.stdout.write(f"Emailed a link to the summary to {delivery.sent} {people}.")
        waiting = QueuedEmail.objects.to_deliver(now=timezone.now()).filter(pk__in=ids).count()
        trouble = delivery.trouble(waiting=waiting)
        if trouble:
            raise CommandError(f"{trouble} Do not run this command again: see --again.")
        if waiting:
            raise CommandError(
                f"{waiting} of {len(ids)} email(s) were refused by the mail server and wait "
                "in the outbox: send_incident_digests tries them again at each run (the "
                "server's answer is in the log and in the admin site, Queued emails). Do not "
                "run this command again: see --again."
            )


# The report's file: read and written by its owner (the app's account), read by its
# group (whoever the deployment lets collect reports), by nobody else.
REPORT_FILE_MODE = 0o640


# A partial file this old was left by a run that was killed (a write takes seconds).
ABANDONED_AFTER = timedelta(hours=1)


def _remove_abandoned(folder: Path, *, prefix: str) -> None:
    """Remove partial files of this report that a killed run left behind (SIGKILL or a
    power cut skip the clean-up below); one being written now by another run is young.
    Tidying only: one that cannot be removed (another account's) is logged and left,
    and never fails the report."""
    cutoff = time.time() - ABANDONED_AFTER.total_seconds()
    for leftover in folder.glob(f"{glob.escape(prefix)}*.part"):
        try:
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            logger.warning("could not remove an abandoned partial report: %s", error)


def _write_private(path: Path, content: bytes) -> None:
    """Write the report beside ``path`` and move it into place once complete: a write
    that fails (a full disk) leaves no truncated report under the report's name, and
    an earlier run's report as it was. A link is followed (the file it names is
    replaced, the link kept); what is not a plain file (/dev/stdout, a pipe) is written
    to as it is."""
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        with target.open("wb") as stream:
            stream.write(content)
        return
    prefix = f".{target.name}."
    descriptor, partial = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), REPORT_FILE_MODE)
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    _remove_abandoned(target.parent, prefix=prefix)
