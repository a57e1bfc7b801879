"""Items DynamoDB reads per tick, over items due, with a large future backlog: the sparse due index
against a full-table Scan (the original proof of concept's method), side by side in one run.

    .venv/bin/python bench/read_amplification.py [--backlogs 10000 100000] [--due 100]

Counts come from DynamoDB's ScannedCount (moto's consumed-capacity figures are placeholders).
"""
import argparse
import time
from datetime import timedelta

from common import fresh_store, put_tasks
from django.conf import settings
from django.utils import timezone
from moto import mock_aws

from tasks.store import to_item


def scan_baseline(store, now):
    """Read the whole table for due pending tasks, as the proof of concept did; return (items read, found, pages)."""
    read, found, pages, request = 0, 0, 0, {
        "TableName": store.table, "FilterExpression": "#due_at <= :now AND #status = :pending",
        "ExpressionAttributeNames": {"#due_at": "due_at", "#status": "status"},
        "ExpressionAttributeValues": to_item({":now": int(now.timestamp()), ":pending": "pending"}),
    }
    while True:
        page = store.client.scan(**request)
        read, found, pages = read + page["ScannedCount"], found + page["Count"], pages + 1
        if "LastEvaluatedKey" not in page:
            return read, found, pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlogs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=int, default=100)
    args = parser.parse_args()
    print(f"{'backlog':>8} {'due':>5} | {'index read':>10} {'pages':>5} {'read/due':>8} | {'scan read':>9} {'pages':>5} {'read/due':>8}")
    for backlog in args.backlogs:
        with mock_aws():
            store = fresh_store()
            put_tasks(store, backlog, due_in=timedelta(days=400))  # the years of future work
            put_tasks(store, args.due, due_in=-timedelta(minutes=5))
            now = timezone.now()
            started = time.perf_counter()
            due = store.query_due(now)
            index_seconds = time.perf_counter() - started
            assert len(due.tasks) == args.due
            scan_read, scan_found, scan_pages = scan_baseline(store, now)
            assert scan_found == args.due
        print(f"{backlog:>8} {args.due:>5} | {due.scanned:>10} {due.pages:>5} {due.scanned / args.due:>8.2f} |"
              f" {scan_read:>9} {scan_pages:>5} {scan_read / args.due:>8.1f}"
              f"   (index query {index_seconds * 1000:.0f} ms, {settings.SCHEDULER_SHARDS} shards)")
    print("goal: index read/due <= 1.05, plus one empty page per shard, flat in the backlog")


if __name__ == "__main__":
    main()
