from boundaries.management.base import DatabaseCommand
from scripts_library.services import recount_uses


class Command(DatabaseCommand):
    help = (
        "Count again, from the incidents, how often each script was used in each unit (the "
        "figures on the library's overview). Filing and the retention purge keep these "
        "counts as they go; run this after loading incidents by other means, such as a "
        "partial restore. It reads every incident once, in one transaction."
    )

    def handle(self, *args, **options):
        rows = recount_uses()
        self.stdout.write(
            self.style.SUCCESS(f"Counted the use of scripts: {rows} script and unit pairs.")
        )
