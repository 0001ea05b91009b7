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
        delivery = deliver()
        waiting = QueuedEmail.objects.to_deliver(now=timezone.now()).count()
        if options["verbosity"]:
            self.stdout.write(f"Digests written for {covered} incident(s).")
            self.stdout.write(
                f"Emails sent: {delivery.sent}; refused or not handed over: "
                f"{delivery.failed}; not sent, their person no longer active or without an "
                f"address: {delivery.no_recipient}; waiting for the next run: {waiting}."
            )
        # Non-zero for cron's monitoring when a person must act (``Delivery.trouble``).
        trouble = delivery.trouble(waiting=waiting)
        if trouble:
            raise CommandError(trouble)
