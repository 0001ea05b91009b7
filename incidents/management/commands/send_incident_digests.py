from django.core.management.base import BaseCommand

from incidents.notifications import send_digests


class Command(BaseCommand):
    help = (
        "Email each unit's supervisors the incidents filed since the last digest. "
        "High-severity incidents are emailed at once when filed; run this from cron "
        "(for example hourly) for the rest."
    )

    def handle(self, *args, **options):
        covered = send_digests()
        if options["verbosity"]:
            self.stdout.write(f"Digests sent for {covered} incident(s).")
