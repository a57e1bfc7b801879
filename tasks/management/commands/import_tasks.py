"""manage.py import_tasks: import tasks, licence windows or JSON from a file, all or nothing."""
import sys
from contextlib import nullcontext

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tasks.importing import ImportFailed, import_source
from tasks.readers import FORMATS, BadFile, line_count, open_source
from tasks.rows import Reading
from tasks.times import BadTime, zone_named


class Command(BaseCommand):
    help = ("Import tasks from a tasks CSV (content_id, action, due_at), a licence windows CSV (licence_id, "
            "content_id, publish_at, withdraw_at) or JSON; all or nothing, and idempotent by key.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the file")
        parser.add_argument("--format", choices=FORMATS, help="the file's format (default: from its extension or header)")
        parser.add_argument("--timezone", help="zone of times without an offset, unless a row names its own "
                            "(default: TIME_ZONE)")
        parser.add_argument("--date-format", help="strptime format of dates that are not ISO 8601, such as '%%d/%%m/%%Y %%H:%%M'")
        parser.add_argument("--encoding", help="the file's text encoding (default: UTF-8, with or without BOM)")
        parser.add_argument("--dry-run", action="store_true", help="check and count, but write nothing")
        parser.add_argument("--skip-invalid", action="store_true", help="import the valid rows and list the invalid ones")
        parser.add_argument("--cancel-missing", action="store_true",
                            help="licence windows: cancel pending tasks of licences that the file (a full export) lacks")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            zone = zone_named(options["timezone"] or settings.TIME_ZONE)
        except BadTime as exc:
            raise CommandError(f"--timezone: {exc}") from None
        try:
            source = open_source(path, format=options["format"], encoding=options["encoding"])
            bar = progress_bar(path)
            with bar or nullcontext():
                result = import_source(source, reading=Reading(zone=zone, date_format=options["date_format"]),
                                       dry_run=options["dry_run"], progress=bar and bar.update,
                                       skip_invalid=options["skip_invalid"], cancel_missing=options["cancel_missing"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except BadFile as exc:
            raise CommandError(f"{path}: {exc}; nothing was imported.") from None
        except ImportFailed as exc:
            raise CommandError("\n".join([f"{path}: {exc.count} error(s); nothing was imported.", *exc.errors,
                                          *more(exc.count, exc.errors)])) from None
        notes = [*(f"skipped {m}" for m in result.errors), *more(result.error_count, result.errors),
                 *(f"left as it is: {m}" for m in result.kept_lines), *more(result.kept, result.kept_lines)]
        for note in notes:
            self.stderr.write(note)
        self.stdout.write(f"{path}{' (dry run, nothing written)' if options['dry_run'] else ''}: {summary(result)}.")
        if options["verbosity"] >= 2:
            self.stdout.write(f"{result.records} records; {result.seconds_sql:.1f} s reading and writing SQL, "
                              f"{result.seconds_dynamodb:.1f} s writing DynamoDB.")
        unsent = [f"{result.push_errors} task(s) are saved but could not be pushed to DynamoDB"] if result.push_errors else []
        if result.cancel_errors:
            unsent.append(f"{result.cancel_errors} cancel(s) could not reach DynamoDB, so those tasks stay pending")
        if unsent:
            raise CommandError("; ".join(unsent) + ". The admin marks them; run the same import again, or "
                               "manage.py reconcile, once DynamoDB is reachable.")


def more(count, shown):
    """Say how many messages were left out after the ones shown, if any."""
    return [f"... and {count - len(shown)} more"] if count > len(shown) else []


def progress_bar(path):
    """Return a tqdm bar over the file's rows when a person watches the terminal, else None."""
    if not sys.stderr.isatty():
        return None
    return tqdm(total=max(line_count(path) - 1, 0), unit="rows", file=sys.stderr, leave=False)


def summary(result):
    """Say in one line what an import did (or would do)."""
    parts = [f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"]
    for count, text in ((result.cancelled, "cancelled"), (result.revived, "of them scheduled again after an import cancelled them"),
                        (result.kept, "rows left as they are (their tasks ran, run, or an editor cancelled them)"),
                        (result.repeated, "repeated rows scheduled once"),
                        (result.due_now, "due now (their time had passed)"),
                        (result.over, "licence windows already over, skipped"),
                        (result.history, "finished tasks skipped"), (result.invalid, "invalid rows skipped"),
                        (result.cancel_refused, "cancels refused (already running or finished)")):
        if count:
            parts.append(f"{count} {text}")
    if result.ignored_columns:
        parts.append(f"columns ignored: {', '.join(result.ignored_columns)}")
    pushed = f"; {result.pushed} pushed to DynamoDB" if result.pushed or result.push_errors else ""
    return ", ".join(parts) + pushed

