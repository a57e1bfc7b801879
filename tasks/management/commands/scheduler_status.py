"""manage.py scheduler_status: the scheduler's health for operators and alarms (exit 1 when unhealthy)."""
import json
from datetime import timedelta, timezone as dt_timezone

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from tasks.health import status_report


class Command(BaseCommand):
    help = ("Print the last tick, tasks per status, the oldest overdue task and sync errors; exit 1 when "
            "unhealthy (no tick for 5 minutes, a task overdue, sync errors, DynamoDB unreadable), for an alarm.")

    def add_arguments(self, parser):
        parser.add_argument("--max-late", type=int, default=5, metavar="MINUTES",
                            help="a task due longer ago than this and not yet performed is unhealthy (default 5)")
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args, **options):
        if options["max_late"] < 0:
            raise CommandError("--max-late must be 0 or more minutes.")
        report = status_report(now=timezone.now(), max_late=timedelta(minutes=options["max_late"]))
        self.stdout.write(json.dumps(report, cls=DjangoJSONEncoder) if options["json"] else describe(report))
        if report["problems"]:
            raise CommandError(f"Unhealthy: {'; '.join(report['problems'])}.", returncode=1)


def describe(report):
    """Return the report as lines an operator reads at a glance (times in UTC)."""
    now, tick, oldest = report["now"], report["last_tick"], report["oldest_overdue"]
    if not report["dynamodb_readable"]:
        tick_line = overdue = "unknown (DynamoDB cannot be read)"
    elif tick:
        summary = ", ".join(f"{k} {v}" for k, v in (report["last_summary"] or {}).items() if k != "seconds")
        tick_line = f"{_utc(tick)} ({int((now - tick).total_seconds())} s ago): {summary}"
    else:
        tick_line = "never"
    statuses = ", ".join(f"{status} {count}" for status, count in report["statuses"].items())
    if oldest:
        late = int((now - oldest["due_since"]).total_seconds())
        overdue = (f"{report['overdue']}; oldest {oldest['action']} {oldest['content_id']} ({oldest['id']}, "
                   f"{oldest['status']}), scheduled for {_utc(oldest['scheduled_for'])}, due for {late} s")
    elif report["dynamodb_readable"]:
        overdue = "none"
    lines = [f"Last tick:    {tick_line}", f"Tasks:        {statuses}", f"Overdue:      {overdue}",
             f"Sync errors:  {report['sync_errors']}",
             "Healthy." if not report["problems"] else f"Unhealthy: {len(report['problems'])} problem(s)."]
    return "\n".join(lines)


def _utc(moment):
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
