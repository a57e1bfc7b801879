"""Reconcile of N synced rows (default 100,000): seconds and DynamoDB requests, cheap and --full.

    .venv/bin/python bench/reconcile.py [--rows 100000]

Goal: at most 1,000 requests for 100,000 rows (batched reads, no request per row).
"""
import argparse
import time
from collections import Counter
from datetime import timedelta

from common import fresh_store
from django.utils import timezone
from moto import mock_aws

from tasks.models import ScheduledTask
from tasks.reconcile import reconcile
from tasks.sync import push_tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with mock_aws():
        store = fresh_store()
        now = timezone.now()
        rows = ScheduledTask.objects.bulk_create(
            [ScheduledTask(content_id=f"film-{n}", action="publish", due_at=now + timedelta(days=30, seconds=n))
             for n in range(args.rows)], batch_size=2000)
        started = time.perf_counter()
        assert push_tasks(rows) == (args.rows, 0)
        print(f"set-up: {args.rows} rows pushed in {time.perf_counter() - started:.1f} s")
        calls, inside, clock = Counter(), [0.0], []
        events = store.client.meta.events
        events.register("before-parameter-build.dynamodb.*", lambda model, **kw: calls.update([model.name]))
        events.register("before-call.dynamodb.*", lambda **kw: clock.append(time.perf_counter()))
        events.register("after-call.dynamodb.*", lambda **kw: inside.__setitem__(0, inside[0] + time.perf_counter() - clock.pop()))
        for full in (False, True):
            calls.clear()
            inside[0], started = 0.0, time.perf_counter()
            counts = reconcile(full=full)
            seconds = time.perf_counter() - started
            assert set(counts.values()) == {0}, counts
            print(f"reconcile{' --full' if full else ''}: {args.rows} synced rows in {seconds:.1f} s "
                  f"({inside[0]:.1f} s of it inside moto), {sum(calls.values())} DynamoDB requests {dict(calls)}, "
                  "repairs: none")
    print("goal: <= 1,000 requests for 100,000 rows")


if __name__ == "__main__":
    main()
