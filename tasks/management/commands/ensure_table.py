"""manage.py ensure_table: create the DynamoDB table, or bring it up to what the scheduler needs."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tasks.store import StoreError, get_store


class Command(BaseCommand):
    help = ("Create the DynamoDB table and its sparse due index, with on-demand billing, point-in-time recovery, "
            "TTL for finished items and (SCHEDULER_DELETION_PROTECTION) deletion protection; safe to run again.")

    def handle(self, *args, **options):
        store = get_store()
        try:
            changes = store.ensure_table(deletion_protection=settings.SCHEDULER_DELETION_PROTECTION,
                                         expire_finished=settings.SCHEDULER_RETENTION_DAYS > 0)
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Table {store.table}: {'; '.join(changes) if changes else 'already as required, nothing changed'}.")
