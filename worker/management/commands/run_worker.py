"""manage.py run_worker: the worker's tick in a loop, on any machine."""
import json
import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from tasks.store import StoreError
from worker.engine import run_tick

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the worker's tick in a loop (or once): performs the due tasks. Safe on several hosts at once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run one tick and exit")
        parser.add_argument("--interval", type=int, default=None,
                            help="seconds between ticks (default: SCHEDULER_TICK_SECONDS)")
        parser.add_argument("--budget", type=float, default=None,
                            help="seconds one tick may take; it stops claiming while a safety margin is left")

    def handle(self, *args, **options):
        interval = options["interval"] or settings.SCHEDULER_TICK_SECONDS
        if interval < 1:
            raise CommandError("--interval must be at least 1 second")
        while True:
            try:
                summary = run_tick(budget_seconds=options["budget"])
            except StoreError as exc:
                if options["once"]:
                    raise CommandError(str(exc)) from exc
                logger.error("Tick failed: %s", exc)
            else:
                self.stdout.write(json.dumps(summary))
            if options["once"]:
                return
            close_old_connections()  # a long-lived loop must not hold a connection the server dropped
            time.sleep(interval)
