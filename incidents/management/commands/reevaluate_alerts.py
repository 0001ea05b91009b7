from django.core.management.base import BaseCommand

from incidents.alerts import reevaluate


class Command(BaseCommand):
    help = (
        "Apply the current alert thresholds to recent incidents: raise an alert for every "
        "patient who now matches the repeat-patient or several-staff rule and has no "
        "unresolved alert for it. Managers can do the same from the thresholds page."
    )

    def handle(self, *args, **options):
        raised = reevaluate()
        self.stdout.write(f"{raised} alert(s) raised.")
