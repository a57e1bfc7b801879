"""Races that threads in one process would hide: several worker processes against moto's server over HTTP."""
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import WEBHOOK_SECRET
from worker.engine import run_tick

# These tests never touch the SQL database (the worker processes need none), so CI's PostgreSQL run skips them.
pytestmark = [pytest.mark.moto_server, pytest.mark.no_sql]
WORKER = Path(__file__).resolve().parent / "worker_process.py"


def due_tasks(store, count, payload_bytes=0):
    """Put `count` tasks due over the past hour straight into DynamoDB; return their ids."""
    now = timezone.now()
    tasks = [{"id": str(uuid.uuid4()), "action": "publish", "content_id": f"film-{n}",
              "payload": {"blob": "x" * payload_bytes} if payload_bytes else {},
              "due_at": now - timedelta(seconds=3600 * n / count + 1), "version": 1} for n in range(count)]
    store.batch_put_new(tasks)
    return [t["id"] for t in tasks]


def start_worker(store, tmp_path, receiver, *, seconds=240, duplicates=1, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SCHEDULER_", "DATABASE_URL"))}
    env.update({
        "DYNAMODB_ENDPOINT_URL": store.endpoint_url, "SCHEDULER_TABLE": store.table,
        "SCHEDULER_WEBHOOK_URL": receiver.url, "SCHEDULER_WEBHOOK_SECRET": WEBHOOK_SECRET,
        # The SQL mirror is best effort; these processes have no migrated database, and need none.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}", "LOG_LEVEL": "ERROR",
    })
    env.update({k: str(v) for k, v in settings.items()})
    return subprocess.Popen([sys.executable, str(WORKER), str(seconds), str(duplicates)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def finished(process, timeout=300):
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output.decode()[-3000:]


def test_four_workers_with_every_event_delivered_twice_perform_each_task_exactly_once(store, tmp_path, receiver):
    ids = due_tasks(store, 2000)
    workers = [start_worker(store, tmp_path, receiver, duplicates=2, SCHEDULER_CONCURRENCY=8) for _ in range(4)]
    for worker in workers:
        assert finished(worker)[0] == 0
    keys = Counter(receiver.keys())
    assert len(keys) == 2000 and set(keys.values()) == {1}
    assert set(keys) == {f"{i}:1" for i in ids}
    assert {item["status"] for item in store.batch_get(ids).values()} == {"done"}


def test_a_worker_killed_mid_batch_leaves_nothing_running_once_the_leases_expire(store, tmp_path, receiver):
    ids = due_tasks(store, 120)
    receiver.delay = 0.3
    timing = {"SCHEDULER_CONCURRENCY": 4, "SCHEDULER_LEASE_SECONDS": 3, "SCHEDULER_WEBHOOK_TIMEOUT_SECONDS": 1}
    doomed = start_worker(store, tmp_path, receiver, **timing)
    deadline = time.monotonic() + 60
    while len(receiver.requests) < 20:
        assert time.monotonic() < deadline and doomed.poll() is None, finished(doomed)[1]
        time.sleep(0.05)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    stranded = [i for i, item in store.batch_get(ids).items() if item["status"] == "running"]
    assert stranded, "the kill came too late to strand a running task"
    successor = start_worker(store, tmp_path, receiver, **timing)
    assert finished(successor)[0] == 0
    items = store.batch_get(ids)
    assert {item["status"] for item in items.values()} == {"done"}
    keys = Counter(receiver.keys())
    assert set(keys) == {f"{i}:1" for i in ids}
    # Only what was in flight at the kill is delivered again, under the same key, for the receiver to drop.
    assert {k for k, n in keys.items() if n > 1} <= {f"{i}:1" for i in stranded}
    assert all(items[i]["attempts"] == 2 for i in stranded)


def test_3000_due_tasks_with_large_payloads_are_all_performed_across_index_pages(store, settings):
    ids = due_tasks(store, 3000, payload_bytes=2000)
    first = run_tick()
    assert first["pages"] > settings.SCHEDULER_SHARDS  # the due query followed LastEvaluatedKey
    second = run_tick() if first["done"] < 3000 else {"done": 0}
    assert first["done"] + second["done"] == 3000
    assert {item["status"] for item in store.batch_get(ids).values()} == {"done"}
