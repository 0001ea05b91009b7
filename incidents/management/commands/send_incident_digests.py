from django.core.management.base import CommandError
from django.utils import timezone

from boundaries.management.base import DatabaseCommand
from incidents.models import QueuedEmail
from incidents.notifications import deliver, send_digests


class Command(DatabaseCommand):
    help = (
        "Email each unit's supervisors the incidents filed since the last digest, then "
        "send every email the app could not hand to the mail server when it was written "
        "(alerts, high-severity incidents, new information, feedback to reporters). "
        "High-severity incidents are emailed at once when filed; run this from cron "
        "(for example hourly) for the rest. An email is tried "
        f"{QueuedEmail.MAX_ATTEMPTS} times at most; each failure is logged."
    )

    def handle(self, *args, **options):
        covered = send_digests()
        sent, failed = deliver()
        waiting = QueuedEmail.objects.to_deliver(now=timezone.now()).count()
        if options["verbosity"]:
            self.stdout.write(f"Digests written for {covered} incident(s).")
            self.stdout.write(
                f"Emails sent: {sent}; refused or not handed over: {failed}; "
                f"waiting for the next run: {waiting}."
            )
        if failed:
            # Non-zero for cron's monitoring: an unreachable mail server stops the run
            # at its first email, and the rest wait unseen.
            raise CommandError(
                f"{failed} email(s) could not be sent and {waiting} wait for the next "
                "run: the mail server's answer for each is in the log and in the admin "
                "site (Queued emails)."
            )
