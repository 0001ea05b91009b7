from django.core.management.base import CommandError

from boundaries.management.base import DatabaseCommand
from scripts_library.library import LIBRARY
from scripts_library.services import LibraryDataError, load_library


class Command(DatabaseCommand):
    help = (
        "Add the organisation's starting script library: approved words for every "
        "situation (a first response, a line for when they ask again, and one for when it "
        "escalates). Only scripts not yet in the database are added; a script already "
        "there is left exactly as the organisation has edited, approved or retired it, so "
        "running this again changes nothing."
    )

    def handle(self, *args, **options):
        try:
            created = load_library()
        except LibraryDataError as error:
            raise CommandError(str(error)) from None
        for script in created:
            self.stdout.write(f"  added {script.key}: {script.current_version.title}")
        if created:
            self.stdout.write(
                self.style.SUCCESS(f"Added {len(created)} of {len(LIBRARY)} library scripts.")
            )
        else:
            self.stdout.write(f"Nothing to add: all {len(LIBRARY)} library scripts are present.")
