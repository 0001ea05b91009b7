"""Generate the monthly summary PDF from cron, and optionally email it."""

from __future__ import annotations

import contextlib
import glob
import os
import smtplib
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.core.mail import EmailMessage, mailers
from django.core.management.base import CommandError, CommandParser

from boundaries import audit
from boundaries.management.base import DatabaseCommand
from boundaries.models import Role, Unit, User
from incidents import reports
from incidents.reports import MalformedMonth, Month


class Command(DatabaseCommand):
    help = (
        "Write the monthly summary PDF for a calendar month (local time), for the whole "
        "organisation or one unit: the same document managers download from /reports/. "
        "With --email, send it to every active manager (organisation, or a closed unit) "
        "or to the unit's supervisors. Example for cron on the 1st of each month: "
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
            help="Email the PDF to the managers, or to the unit's supervisors.",
        )

    def handle(
        self,
        *args,
        month: str | None,
        unit: str | None,
        output: str | None,
        email: bool,
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

        summary = reports.monthly_summary(
            month=chosen, unit=scope_unit, generated_by=reports.SCHEDULED_JOB
        )
        pdf = reports.render_monthly_summary(summary)

        # Recorded once something has gone out, and even if a later step fails.
        delivered = False
        try:
            if output:
                path = folder / summary.filename if folder else Path(output)
                try:
                    _write_private(path, pdf)
                except OSError as error:
                    raise CommandError(f"Could not write {path}: {error.strerror}.") from None
                delivered = True
                self.stdout.write(f"Wrote {path} ({len(pdf):,} bytes).")
            if email:
                not_sent = self._email(summary, pdf, recipients)
                sent = len(recipients) - len(not_sent)
                if sent:
                    delivered = True
                    self.stdout.write(
                        f"Emailed the summary to {sent} {'person' if sent == 1 else 'people'}."
                    )
                if not_sent:
                    reasons = "; ".join(f"{address} ({why})" for address, why in not_sent.items())
                    raise CommandError(
                        f"The summary went to {sent} of {len(recipients)}; {len(not_sent)} "
                        f"could not be sent: {reasons}. Send it to them another way: running "
                        "the command again emails everyone again."
                    )
        finally:
            if delivered:
                audit.record(
                    action=audit.Action.REPORT_EXPORTED,
                    unit=scope_unit,
                    about=("month", str(chosen)),
                )

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
        people = User.objects.filter(is_active=True).exclude(email="")
        if unit is None or not unit.is_active:
            # A closed unit's supervisors no longer see its reports: its managers do.
            people = people.filter(role=Role.MANAGER)
        else:
            people = people.filter(role=Role.SUPERVISOR, memberships__unit=unit)
        recipients = list(people.distinct().order_by("email"))
        if not recipients:
            raise CommandError("Nobody to email: no active person with an email address.")
        return recipients

    def _email(
        self, summary: reports.MonthlySummary, pdf: bytes, recipients: list[User]
    ) -> dict[str, str]:
        """Send each person their message, over one connection; one the mail server
        refuses does not stop the others. Returns the addresses not sent to, with why."""
        body = (
            f"The Boundaries monthly summary for {summary.month.label} "
            f"({summary.scope.label}) is attached.\n\n"
            "It holds figures only, with patients pseudonymised. Keep it on the "
            "organisation's systems.\n"
        )
        # Someone who reported incidents in the month gets their own copy, which leaves
        # what supervisors did about those reports out of the review actions (as the
        # downloaded one does); everyone else gets the shared one.
        reporters = set(
            summary.scope.incidents()
            .in_period(summary.month.start, summary.month.end)
            .filter(reporter__in=recipients)
            .values_list("reporter_id", flat=True)
        )
        messages = []
        for person in recipients:
            document = pdf
            if person.pk in reporters:
                document = reports.render_monthly_summary(
                    reports.monthly_summary(
                        month=summary.month,
                        unit=summary.scope.unit,
                        generated_by=reports.SCHEDULED_JOB,
                        reader_id=person.pk,
                    )
                )
            # One message per person: nobody sees who else receives it.
            message = EmailMessage(subject=summary.title, body=body, to=[person.email])
            message.attach(summary.filename, document, "application/pdf")
            messages.append(message)
        not_sent: dict[str, str] = {}
        connection = mailers.default
        try:
            try:
                connection.open()
            except OSError as error:
                return {message.to[0]: _why(error) for message in messages}
            for message in messages:
                try:
                    connection.send_messages([message])
                except OSError as error:  # smtplib's errors are OSErrors too
                    not_sent[message.to[0]] = _why(error)
        finally:
            connection.close()
        return not_sent


def _why(error: OSError) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "refused: " + ", ".join(
            f"{code} {reply.decode(errors='replace')}" for code, reply in error.recipients.values()
        )
    return f"{type(error).__name__}: {error}"


# The report's file: read and written by its owner (the app's account), read by its
# group (whoever the deployment lets collect reports), by nobody else.
REPORT_FILE_MODE = 0o640


# A partial file this old was left by a run that was killed (a write takes seconds).
ABANDONED_AFTER = timedelta(hours=1)


def _remove_abandoned(folder: Path, *, prefix: str) -> None:
    """Remove partial files of this report that a killed run left behind (SIGKILL or a
    power cut skip the clean-up below); one being written now by another run is young."""
    cutoff = time.time() - ABANDONED_AFTER.total_seconds()
    for leftover in folder.glob(f"{glob.escape(prefix)}*.part"):
        with contextlib.suppress(FileNotFoundError):
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()


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
    _remove_abandoned(target.parent, prefix=prefix)
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
