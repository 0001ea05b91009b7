from boundaries.management.base import DatabaseCommand
from incidents.alerts import reevaluate


class Command(DatabaseCommand):
    help = (
        "Apply the current alert thresholds to recent incidents: raise an alert for every "
        "patient who now matches the repeat-patient or several-staff rule and has no "
        "unresolved alert for it. Managers can do the same from the thresholds page."
    )

    def handle(self, *args, **options):
        raised = reevaluate()
        self.stdout.write(f"{raised} alert(s) raised.")
