"""What the benchmarks share: Django set up on a throw-away database, a fresh table, due tasks."""
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
os.environ.setdefault("LOG_LEVEL", "ERROR")
for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(name, "bench")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from tasks import store as store_module  # noqa: E402


def fresh_store(endpoint_url=None, **overrides):
    """Point the settings at a new table (on `endpoint_url`, or wherever moto intercepts) and return its gateway."""
    call_command("migrate", verbosity=0)
    settings.SCHEDULER_TABLE = f"bench-{uuid.uuid4().hex[:8]}"
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = endpoint_url
    for name, value in overrides.items():
        setattr(settings, name, value)
    store_module._stores.clear()
    store = store_module.get_store()
    store.ensure_table()
    return store


def put_tasks(store, count, *, due_in, payload=None):
    """Create `count` pending items due `due_in` from now (negative: overdue); return their ids."""
    now = timezone.now()
    tasks = [{"id": str(uuid.uuid4()), "action": "publish", "content_id": f"film-{n}", "payload": payload or {},
              "due_at": now + due_in - timedelta(seconds=n % 3600), "version": 1} for n in range(count)]
    store.batch_put_new(tasks)
    return [t["id"] for t in tasks]
