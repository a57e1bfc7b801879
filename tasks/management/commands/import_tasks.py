"""manage.py import_tasks: import a tasks CSV, all or nothing."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tasks.importing import ImportFailed, import_rows, read_tasks_csv

MAX_ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = "Import tasks from a CSV file (content_id, action, due_at, optional payload and key); all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file")
        parser.add_argument("--dry-run", action="store_true", help="check and count, but write nothing")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            result = import_rows(read_tasks_csv(text), dry_run=options["dry_run"])
        except ImportFailed as exc:
            shown = exc.errors[:MAX_ERRORS_SHOWN]
            more = len(exc.errors) - len(shown)
            lines = [f"{path}: {len(exc.errors)} error(s); nothing was imported.", *shown]
            if more:
                lines.append(f"... and {more} more")
            raise CommandError("\n".join(lines)) from None
        summary = f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
        if result.repeated:
            summary += f", {result.repeated} repeated rows ignored"
        if options["dry_run"]:
            self.stdout.write(f"{path} (dry run, nothing written): {summary}.")
            return
        self.stdout.write(f"{path}: {summary}; {result.pushed} pushed to DynamoDB.")
        if result.push_errors:
            raise CommandError(
                f"{result.push_errors} task(s) are saved but could not be pushed to DynamoDB; they are marked "
                "sync error in the admin. Run the same import again once DynamoDB is reachable."
            )
