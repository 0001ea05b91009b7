from django.core.management.base import BaseCommand

from incidents.models import QueuedEmail
from incidents.notifications import deliver, send_digests


class Command(BaseCommand):
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
        if options["verbosity"]:
            self.stdout.write(f"Digests sent for {covered} incident(s).")
            self.stdout.write(f"Emails sent: {sent}; not sent, tried again later: {failed}.")
