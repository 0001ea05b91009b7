import re

from django.core.management.base import CommandError

from boundaries.audit import verify_chain
from boundaries.management.base import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Check the audit trail: recompute every event's hash in insertion order and "
        "compare it with the stored one and with the next event's link. Names the first "
        "event that does not match and exits with status 1, or says that all of them "
        "verify and prints the last hash. Keep that hash somewhere else (a ticket, the "
        "backup log): passing it back with --expect-last shows that no event was removed "
        "from the end since."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-last",
            metavar="HASH",
            help="A last hash printed by an earlier run; it must still be in the chain.",
        )

    def handle(self, *args, expect_last=None, **options):
        from boundaries.models import AuditEvent

        if expect_last is not None:
            # As printed, in either case; anything else is a mistyped argument, not a
            # sign that events were removed.
            expect_last = expect_last.strip().lower()
            if not re.fullmatch(r"[0-9a-f]{64}", expect_last):
                raise CommandError(
                    "--expect-last takes a hash as an earlier run printed it: 64 letters "
                    "and digits (0-9, a-f)."
                )
        result = verify_chain()
        if not result.ok:
            raise CommandError(
                f"Audit event {result.mismatch.event_id} does not match: "
                f"{result.mismatch.reason}. {result.checked} events before it verify."
            )
        if expect_last and not AuditEvent.objects.filter(hash=expect_last).exists():
            raise CommandError(
                f"The chain verifies ({result.checked} events), but the expected hash "
                f"{expect_last} is no longer in it: events were removed from the end."
            )
        self.stdout.write(
            self.style.SUCCESS(f"All {result.checked} audit events verify.")
            + f" Last hash: {result.last_hash}"
        )
