from django.conf import settings
from django.core.management.base import CommandParser
from django.utils import timezone

from boundaries.management.base import DatabaseCommand
from incidents.retention import EMAIL_RETENTION_DAYS, purge_expired

LABELS = {
    "incidents": "incidents",
    "witnesses": "their witnesses",
    "addenda": "their addenda",
    "incident_events": "their review history entries",
    "alert_links": "their links to alerts",
    "drafts": "drafts carrying their submission token",
    "alerts": "alerts left with no incident",
    "patients": "patients left with no incident or alert",
}


class Command(DatabaseCommand):
    help = (
        "Delete what has outlived its retention period. Incidents with no activity "
        "(filing, review, feedback, addendum, closing) for RETENTION_YEARS (default 8) "
        "go with their witnesses, addenda, review history and alert links; so do alerts "
        "and patients left with no incident. Drafts never filed go DRAFT_RETENTION_DAYS "
        "(default 30) after their last change; emails the app sent, "
        f"{EMAIL_RETENTION_DAYS} days after they went. Each deleted record leaves an audit event "
        "with its type and id only. The audit trail itself is never purged: it is "
        "append-only, and its events carry no description or patient reference. Run "
        "daily from cron; --dry-run first to see the counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be deleted, and change nothing.",
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        result = purge_expired(dry_run=dry_run)
        verb = "would be deleted" if dry_run else "deleted"
        years = settings.BOUNDARIES["RETENTION_YEARS"]
        days = settings.BOUNDARIES["DRAFT_RETENTION_DAYS"]
        counts = result.counts()
        # The local dates: run by hand soon after midnight in summer, UTC's is the day before.
        incidents_since = timezone.localdate(result.incidents_cutoff)
        drafts_since = timezone.localdate(result.drafts_cutoff)
        self.stdout.write(
            f"Incidents with no activity since {incidents_since:%Y-%m-%d} "
            f"(kept {years} years), {verb}:"
        )
        for name, label in LABELS.items():
            self.stdout.write(f"  {label}: {counts[name]}")
        self.stdout.write(
            f"Drafts not changed since {drafts_since:%Y-%m-%d} (kept {days} days), "
            f"{verb}: {result.abandoned_drafts}"
        )
        self.stdout.write(
            f"Emails sent or given up on more than {EMAIL_RETENTION_DAYS} days ago, "
            f"{verb}: {result.emails}"
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
        else:
            self.stdout.write(
                self.style.SUCCESS("Done. Each deleted record is in the audit trail by its id.")
            )
