"""manage.py runscheduler: everything on one machine (what make run runs)."""
import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tasks.store import StoreError, get_store
from tasks.reconcile import reconcile
from worker import embedded
from worker.local_dynamodb import LocalDynamoDB


class Command(BaseCommand):
    help = ("Run everything on one machine: migrations, an embedded DynamoDB (unless DYNAMODB_ENDPOINT_URL "
            "is set), the table, an admin user, the worker ticking, and the admin site.")

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="where the admin listens")
        parser.add_argument("--tick-seconds", type=int, default=None,
                            help="seconds between ticks (default: SCHEDULER_TICK_SECONDS)")
        parser.add_argument("--dynamodb-port", type=int, default=int(os.environ.get("EMBEDDED_DYNAMODB_PORT", 8001)),
                            help="port of the embedded DynamoDB (default 8001, or EMBEDDED_DYNAMODB_PORT; 0: any)")

    def handle(self, *args, **options):
        interval = options["tick_seconds"] or settings.SCHEDULER_TICK_SECONDS
        call_command("migrate", interactive=False, verbosity=0)
        server, importing = None, "manage.py import_tasks FILE"
        if settings.SCHEDULER_DYNAMODB_ENDPOINT_URL:
            dynamodb = f"{settings.SCHEDULER_DYNAMODB_ENDPOINT_URL} (DYNAMODB_ENDPOINT_URL)"
        else:
            try:
                server = LocalDynamoDB(options["dynamodb_port"]).start()
            except OSError as exc:
                raise CommandError(f"The embedded DynamoDB cannot listen on 127.0.0.1:{options['dynamodb_port']} "
                                   f"({exc.strerror}); choose another port with EMBEDDED_DYNAMODB_PORT=N "
                                   "(0: any free port).") from None
            url = settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = server.url
            dynamodb = f"embedded at {url} (kept in memory: emptied on restart, refilled from the database)"
            importing = f"DYNAMODB_ENDPOINT_URL={url} .venv/bin/python manage.py import_tasks FILE"
        try:
            get_store().ensure_table(expire_finished=settings.SCHEDULER_RETENTION_DAYS > 0)
            counts = reconcile()  # the embedded DynamoDB starts empty: every live task goes back
            synced, errors = counts["pushed"], counts["errors"]
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        generated = embedded.ensure_admin(username, os.environ.get("DJANGO_SUPERUSER_PASSWORD"))
        if generated:
            login = f"user {username}, password {generated} (generated now and shown only once)"
        else:
            login = f"user {username} (password unchanged; `manage.py changepassword {username}` resets it)"
        sender = (f"webhooks to {settings.SCHEDULER_WEBHOOK_URL}" if settings.SCHEDULER_WEBHOOK_URL
                  else "log only (set SCHEDULER_WEBHOOK_URL to send webhooks)")
        addrport = options["addrport"]
        self.stdout.write(self.style.SUCCESS("Slow scheduler is running."))
        self.stdout.write(f"  Admin:     http://{addrport}/{settings.ADMIN_PATH}  {login}")
        self.stdout.write(f"  DynamoDB:  {dynamodb}; table {settings.SCHEDULER_TABLE}; "
                          f"{synced} live task(s) pushed{f', {errors} failed' if errors else ''}")
        self.stdout.write(f"  Worker:    ticking every {interval} s; {sender}")
        self.stdout.write(f"  Import:    {importing}  (in another terminal)")
        self.stdout.write(f"  Editors' time zone: {settings.TIME_ZONE}.  Stop with Ctrl-C.")
        stop = embedded.start_ticking(interval)
        try:
            call_command("runserver", addrport, use_reloader=False, skip_checks=True)
        finally:
            stop.set()
            if server:
                server.stop()
