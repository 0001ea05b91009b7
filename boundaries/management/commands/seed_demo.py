import secrets

from django.conf import settings
from django.core.management.base import CommandError

from boundaries.demo import (
    DEMO_EMAIL_DOMAIN,
    MAIN_DEMO_USERNAMES,
    seed_organisation,
    seed_second_factors,
)
from boundaries.management.base import DatabaseCommand
from boundaries.models import User
from incidents.demo import seed_incidents
from scripts_library.services import load_library

# Five years: more is no better a demonstration, and dates far back meet the retention
# period and the first month reports cover.
MAX_MONTHS = 60


class Command(DatabaseCommand):
    help = (
        "Create a demo organisation: units, a person for every role (nurse, nurse2, "
        "supervisor, supervisor2, manager, admin), the script library and months of "
        "invented incidents. Safe to run again: what exists is left unchanged, except "
        "that the demo supervisors, manager and administrator get new backup codes on "
        "every run (the ones printed; earlier ones stop working), so the printed way in "
        "through two-factor sign-in always works. "
        "For demonstrations only, never on a real deployment."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            help="The password for the demo accounts this run creates (default: a random "
            "one, printed); accounts made by an earlier run keep theirs.",
        )
        parser.add_argument(
            "--months",
            type=int,
            default=6,
            help=f"How many months of invented incidents to create, 1 to {MAX_MONTHS} "
            "(default 6); none are added once the database holds any incident.",
        )
        parser.add_argument(
            "--without-debug",
            action="store_true",
            help="Run although DJANGO_DEBUG is off, for a demonstration server set up like "
            "production. Refused otherwise: on a real deployment the demo's administrator, "
            "whose password this prints, and its invented incidents, which would count in "
            "the monthly reports, must never appear.",
        )

    def handle(self, *args, password=None, months=6, without_debug=False, **options):
        if not settings.DEBUG and not without_debug:
            raise CommandError(
                "DJANGO_DEBUG is off, as on a real deployment: the demo is not loaded "
                "there. Run it with DJANGO_DEBUG=true (make run does), or add "
                "--without-debug on a demonstration server."
            )
        if not 1 <= months <= MAX_MONTHS:
            raise CommandError(f"--months must be from 1 to {MAX_MONTHS}.")
        given = password is not None
        password = password or secrets.token_urlsafe(12)
        people = seed_organisation(password=password)
        added = load_library()
        self.stdout.write(f"Script library: {len(added)} scripts added.")
        incidents = seed_incidents(months=months)
        self.stdout.write(f"Demo incidents: {incidents} added.")
        second_factors = seed_second_factors()

        created = [person.username for person, was_created in people if was_created]
        # One demo account from an earlier run stands for them all (each check is a
        # slow hash): they were made together, with one password.
        kept = User.objects.filter(
            username__in=[person.username for person, was_created in people if not was_created],
            email__endswith=f"@{DEMO_EMAIL_DOMAIN}",
        ).first()
        shared = True
        if kept is None or (given and kept.check_password(password)):
            shown = password
        elif created:
            # Some made now (one a later version adds, say), beside older ones that keep
            # theirs: the new password is only the new accounts'.
            shared = False
            shown = (
                f"{password} for {', '.join(created)} (created now); the others were "
                "created earlier with another, and keep it."
            )
        elif given:
            # make run's var/demo-password lost, or another --password, with the demo
            # database kept: printing the new one would give a password that fails.
            shown = (
                "not the one given: these accounts were created earlier with another, and "
                "keep it. For a fresh demo, delete the database (var/db.sqlite3) and run "
                "this again."
            )
        else:
            shown = "(as when first created)"

        self.stdout.write("")
        heading = "Demo sign-ins (all share one password)" if shared else "Demo sign-ins"
        self.stdout.write(self.style.MIGRATE_HEADING(heading))
        for person, _ in people:
            if person.username in MAIN_DEMO_USERNAMES:
                self.stdout.write(f"  {person.username:<12} {person.summary}")
        others = ", ".join(p.username for p, _ in people if p.username not in MAIN_DEMO_USERNAMES)
        self.stdout.write(f"  (colleagues who filed the demo incidents: {others})")
        self.stdout.write(f"  Password: {shown}")
        self.stdout.write("")

        if second_factors:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    "Two-factor sign-in (the second step after the password)"
                )
            )
            self.stdout.write(
                "  Type one of the person's backup codes (each works once; every run of "
                "seed_demo prints new ones),"
            )
            self.stdout.write(
                "  or add their key to an authenticator app and type the 6-digit code it shows."
            )
            for demo in second_factors:
                self.stdout.write(
                    f"  {demo.username:<12} backup codes: {' '.join(demo.backup_codes)}"
                )
                self.stdout.write(f"  {'':<12} key: {demo.key}")
            self.stdout.write("")
