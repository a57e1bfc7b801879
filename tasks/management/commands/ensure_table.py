"""manage.py ensure_table: create the DynamoDB table and its due index."""
from django.core.management.base import BaseCommand, CommandError

from tasks.store import StoreError, get_store


class Command(BaseCommand):
    help = "Create the DynamoDB table and its sparse due index if they do not exist (safe to run again)."

    def handle(self, *args, **options):
        store = get_store()
        try:
            created = store.ensure_table()
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Table {store.table} {'created' if created else 'already exists'}.")
