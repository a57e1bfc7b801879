"""manage.py export_tasks: write tasks as a tasks CSV or JSON that import_tasks reads back."""
import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tasks.exporting import export_tasks
from tasks.models import ScheduledTask


class Command(BaseCommand):
    help = "Export tasks (content_id, action, due_at, payload, key, status) as CSV or JSON; import_tasks reads it back."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("csv", "json"), default="csv")
        parser.add_argument("--status", action="append", choices=ScheduledTask.Status.values,
                            help="only tasks with this status (repeat for more; default: all)")
        parser.add_argument("--output", help="file to write (default: standard output); written whole or not at all")

    def handle(self, *args, **options):
        if not options["output"]:
            try:
                count = export_tasks(_Unterminated(self.stdout), format=options["format"], statuses=options["status"])
            except BrokenPipeError:  # `export_tasks | head`: the reader has what it wanted
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
                return
            self.stderr.write(f"{count} tasks exported.")
            return
        target = Path(options["output"])
        partial = target.with_name(f".{target.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as stream:
                count = export_tasks(stream, format=options["format"], statuses=options["status"])
            os.replace(partial, target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"{target}: cannot write ({exc.strerror})") from None
        self.stdout.write(f"{count} tasks exported to {target}.")


class _Unterminated:
    """A command's stdout that writes text as given (OutputWrapper would end every write with a newline)."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text):
        self.wrapper.write(text, ending="")
