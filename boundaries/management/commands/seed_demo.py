import secrets

from django.core.management.base import BaseCommand

from boundaries.demo import MAIN_DEMO_USERNAMES, seed_organisation
from boundaries.models import User


class Command(BaseCommand):
    help = (
        "Create a demo organisation: units, a person for every role (nurse, nurse2, "
        "supervisor, supervisor2, manager, admin), the script library and months of "
        "invented incidents. Safe to run again: what exists is left unchanged. "
        "For demonstrations only, never on a real deployment."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            help="The password for every demo account (default: a random one, printed).",
        )

    def handle(self, *args, password=None, **options):
        given = password is not None
        password = password or secrets.token_urlsafe(12)
        people = seed_organisation(password=password)

        created = [person for person, was_created in people if was_created]
        if created or (given and User.objects.get(username="nurse").check_password(password)):
            shown = password
        else:
            shown = "(as when first created)"

        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo sign-ins (all share one password)"))
        for person, _ in people:
            if person.username in MAIN_DEMO_USERNAMES:
                self.stdout.write(f"  {person.username:<12} {person.summary}")
        others = ", ".join(p.username for p, _ in people if p.username not in MAIN_DEMO_USERNAMES)
        self.stdout.write(f"  (colleagues who filed the demo incidents: {others})")
        self.stdout.write(f"  Password: {shown}")
        self.stdout.write("")
