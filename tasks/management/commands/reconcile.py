"""manage.py reconcile: repair drift between the database and DynamoDB."""
from django.core.management.base import BaseCommand, CommandError

from tasks.reconcile import KINDS, reconcile
from tasks.store import StoreError


class Command(BaseCommand):
    help = "Repair drift between the database and DynamoDB, both ways, and print counts per kind (safe to repeat)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be repaired, change nothing")
        parser.add_argument("--full", action="store_true", help="compare every row and every item, not only the live ones")

    def handle(self, *args, **options):
        try:
            counts = reconcile(full=options["full"], dry_run=options["dry_run"])
        except StoreError as exc:
            raise CommandError(f"Reconcile stopped: {exc}") from exc
        label = "would repair" if options["dry_run"] else "repaired"
        self.stdout.write(f"Reconcile {label}: " + ", ".join(f"{counts[k]} {k}" for k in KINDS) + ".")
        if counts["errors"]:
            raise CommandError(f"{counts['errors']} task(s) could not be pushed; they stay marked sync error.")
