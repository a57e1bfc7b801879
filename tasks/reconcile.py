"""Repair drift between the editors' rows and DynamoDB, both ways; running it twice changes nothing."""
import logging
from collections import Counter

from django.utils import timezone

from tasks import sync
from tasks.models import ScheduledTask
from tasks.store import Conflict, get_store

logger = logging.getLogger(__name__)

KINDS = ("pushed", "pulled", "cancelled", "deleted", "errors")
Status = ScheduledTask.Status


def reconcile(*, full=False, dry_run=False, now=None):
    """Compare rows and items, repair what differs, and return counts per kind of repair.

    The scheduled run stays cheap as the table grows: it reads the rows not synced, the live part of
    the due index (keys only), and by BatchGetItem the items of live rows that the index lacks.
    `full` scans every item (id, status and version only) against every row.
    """
    store, now = get_store(), now or timezone.now()
    counts = Counter({kind: 0 for kind in KINDS})
    push = set(ScheduledTask.objects.unsynced().filter(status=Status.PENDING).values_list("pk", flat=True))
    live_items = {task_id for _due, task_id in store.query_due().tasks}
    live_rows = {str(pk): status for pk, status in ScheduledTask.objects.live().values_list("pk", "status")}

    # Items that can still fire though their row is gone or no longer live: the dangerous kind.
    unexpected = live_items - set(live_rows)
    strangers = _rows(unexpected)
    for task_id in unexpected:
        row = strangers.get(task_id)
        if row is None:
            counts["deleted"] += _apply(dry_run, store.delete, task_id)
        elif row.status == Status.CANCELLED:
            counts["cancelled"] += _apply(dry_run, store.cancel, task_id, version=row.version, now=now)
    pull_ids = [t for t, row in strangers.items() if row.status != Status.CANCELLED]

    # Rows that should have a live item: the item is missing (push it) or finished (pull its outcome).
    # --full looks at every row, against a scan of every item (id, status, version) instead.
    if full:
        items = {task_id: {"status": status, "version": version} for task_id, status, version in store.all_items()}
        rows = _rows(str(pk) for pk in ScheduledTask.objects.values_list("pk", flat=True))
        for task_id in set(items) - set(rows) - unexpected:  # items of rows long gone, finished or not
            counts["deleted"] += _apply(dry_run, store.delete, task_id)
    else:
        rows = _rows(set(live_rows) - live_items)
        items = store.batch_get(sorted(rows)) if rows else {}
    for task_id, row in rows.items():
        item = items.get(task_id)
        if item is None:
            if row.status == Status.PENDING:
                push.add(row.pk)
        elif item["status"] == Status.PENDING and item.get("version", 0) < row.version and row.status == Status.PENDING:
            push.add(row.pk)
        elif item["status"] != row.status and task_id not in pull_ids:
            pull_ids.append(task_id)
    pulled = store.batch_get(pull_ids) if pull_ids else {}
    for task_id in pull_ids:
        counts["pulled"] += 1 if dry_run else sync.mirror_outcome(pulled[task_id])

    if push:
        if dry_run:
            counts["pushed"] += len(push)
        else:
            synced, errors = sync.push_tasks(ScheduledTask.objects.filter(pk__in=list(push)))
            counts["pushed"], counts["errors"] = counts["pushed"] + synced, counts["errors"] + errors
    return counts


def _rows(task_ids):
    """Return {id: row} for the ids that have a row, reading 500 at a time."""
    ids, rows = sorted(task_ids), {}
    for start in range(0, len(ids), 500):
        for row in ScheduledTask.objects.filter(pk__in=ids[start:start + 500]).only("pk", "status", "version"):
            rows[str(row.pk)] = row
    return rows


def _apply(dry_run, change, *args, **kwargs):
    """Make one repair unless it is a dry run; return 1 if it was (or would be) made."""
    if dry_run:
        return 1
    try:
        change(*args, **kwargs)
    except Conflict as exc:
        logger.warning("Reconcile left item %s alone: %s", args[0], exc)
        return 0
    return 1
