"""Services that keep DynamoDB in step with the editors' rows, and mirror the worker's outcomes back."""
import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks.models import ScheduledTask
from tasks.store import Conflict, StoreError, get_store

logger = logging.getLogger(__name__)

# A task due this far ahead cannot be claimed while a batch write is in flight, so a batch write
# (which cannot carry a condition) is safe for it; anything due sooner takes the conditional push.
BATCH_SAFE_AHEAD = timedelta(hours=1)


def definition(task):
    """Return what DynamoDB needs to know of a row to run it: never its execution attributes."""
    return {
        "id": str(task.pk), "action": task.action, "content_id": task.content_id,
        "payload": task.payload, "due_at": task.due_at, "version": task.version,
    }


def push_task(task_id):
    """Push one row's current version to DynamoDB and record the result on the row; return sync_state."""
    task = ScheduledTask.objects.filter(pk=task_id).first()
    if task is None or task.status != ScheduledTask.Status.PENDING:
        return None  # deleted meanwhile, or the worker owns it now
    try:
        get_store().push(definition(task))
    except Conflict as exc:
        logger.warning("Push of task %s v%s refused: %s", task.pk, task.version, exc)
        _mark([task], ScheduledTask.SyncState.ERROR, str(exc))
        if exc.item:
            mirror_outcome(exc.item)
        return ScheduledTask.SyncState.ERROR
    except Exception as exc:  # DynamoDB away, or anything else: the row says so, the save stands
        logger.exception("Push of task %s v%s failed", task.pk, task.version)
        _mark([task], ScheduledTask.SyncState.ERROR, str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}")
        return ScheduledTask.SyncState.ERROR
    _mark([task], ScheduledTask.SyncState.SYNCED)
    return ScheduledTask.SyncState.SYNCED


def push_tasks(tasks, *, now=None, new=False):
    """Push many pending rows in batches; return (synced, errors) counts.

    Items DynamoDB lacks and that are not due soon are written 25 a request; every other task takes
    the conditional single push, which never overwrites a newer version or a task the worker started.
    `new` says the rows were created since their last commit, so DynamoDB cannot hold their items yet.
    """
    tasks = [t for t in tasks if t.status == ScheduledTask.Status.PENDING]
    if not tasks:
        return 0, 0
    store, now = get_store(), now or timezone.now()
    try:
        held = {} if new else store.batch_get([t.pk for t in tasks])
        fresh = [t for t in tasks if str(t.pk) not in held and t.due_at > now + BATCH_SAFE_AHEAD]
        store.batch_put_new([definition(t) for t in fresh])
    except StoreError as exc:
        logger.warning("Batch push of %d tasks failed: %s", len(tasks), exc)
        _mark(tasks, ScheduledTask.SyncState.ERROR, str(exc))
        return 0, len(tasks)
    _mark(fresh, ScheduledTask.SyncState.SYNCED)
    # An editor's change committed while the batch was in flight may have been overwritten by it: every
    # such row now has another version than the one written, and takes the conditional push again.
    written = {t.pk: t.version for t in fresh}
    moved = {pk for pk, version in _versions(written).items() if version != written[pk]}
    singles = [t.pk for t in tasks if t.pk not in written or t.pk in moved]
    results = [push_task(pk) for pk in singles]
    errors = results.count(ScheduledTask.SyncState.ERROR)
    return len(tasks) - errors, errors


def _versions(task_ids):
    ids, versions = list(task_ids), {}
    for start in range(0, len(ids), 500):
        versions.update(ScheduledTask.objects.filter(pk__in=ids[start:start + 500]).values_list("pk", "version"))
    return versions


def cancel_tasks(tasks, *, user=None, now=None, reason=None):
    """Cancel pending tasks in DynamoDB first, then on their rows; return counts (cancelled, refused, errors).

    A task the worker has already claimed or finished is refused, and its row shows the real state.
    `reason` becomes the task's outcome (default: who cancelled it).
    """
    now, store = now or timezone.now(), get_store()
    reason = reason or (f"cancelled by {user}" if user else "cancelled")
    return _editor_move(
        tasks, verb="cancelled", expected=ScheduledTask.Status.PENDING, user=user,
        change=lambda task, version: store.cancel(task.pk, version=version, now=now, reason=reason),
        row={"status": ScheduledTask.Status.CANCELLED, "completed_at": now, "outcome": reason})


def retry_tasks(tasks, *, user=None, now=None):
    """Make failed tasks due now again, attempts kept and as many more allowed; return counts (retried, refused, errors)."""
    now, store = now or timezone.now(), get_store()
    return _editor_move(
        tasks, verb="retried", expected=ScheduledTask.Status.FAILED, user=user,
        change=lambda task, version: store.retry(task.pk, version=version, now=now,
                                                 more_attempts=settings.SCHEDULER_MAX_ATTEMPTS),
        row={"status": ScheduledTask.Status.PENDING, "due_at": now, "completed_at": None, "outcome": ""})


def _editor_move(tasks, *, verb, expected, change, row, user):
    """Make an editor's change of execution state in DynamoDB first, then on the rows; return counts.

    Only tasks in the `expected` status are tried; `change(task, version)` must be conditional on it.
    """
    counts = {verb: 0, "refused": 0, "errors": 0}
    for task in tasks:
        if task.status != expected:
            counts["refused"] += 1
            continue
        version = task.version + 1
        if not _dynamodb_first(verb, task, counts, lambda: change(task, version)):
            continue
        ScheduledTask.objects.filter(pk=task.pk).update(
            **row, version=version, updated_by=user, updated_at=timezone.now(),  # update() skips auto_now
            sync_state=ScheduledTask.SyncState.SYNCED, synced_version=version, sync_error="")
        counts[verb] += 1
    return counts


def run_now(tasks, *, user=None, now=None):
    """Make pending tasks due now (a new version, pushed conditionally); return counts (moved, refused, errors)."""
    counts, now = {"moved": 0, "refused": 0, "errors": 0}, now or timezone.now()
    for task in tasks:
        if task.status != ScheduledTask.Status.PENDING:
            counts["refused"] += 1
            continue
        with transaction.atomic():
            task.due_at = now
            task.record_change(user, ScheduledTask.objects.current_version(task.pk))
            task.save(update_fields=["due_at", "version", "sync_state", "updated_by", "updated_at"])
        # Pushed here to count the result (the save hook's own push after the commit is then a no-op).
        if push_task(task.pk) == ScheduledTask.SyncState.SYNCED:
            counts["moved"] += 1
        else:  # refused: the push pulled the worker's state onto the row; else DynamoDB was away
            status = ScheduledTask.objects.filter(pk=task.pk).values_list("status", flat=True).first()
            counts["refused" if status != ScheduledTask.Status.PENDING else "errors"] += 1
    return counts


def resync_tasks(tasks):
    """Pull the worker's state of rows whose item has moved on, push the other pending rows; return counts.

    Counts are pushed, pulled and errors.
    """
    tasks = list(tasks)
    try:
        items = get_store().batch_get([t.pk for t in tasks])
    except StoreError as exc:
        logger.warning("Resync could not read %d items: %s", len(tasks), exc)
        return {"pushed": 0, "pulled": 0, "errors": len(tasks)}
    moved_on = [items[str(t.pk)] for t in tasks if str(t.pk) in items and items[str(t.pk)]["status"] != t.status]
    pulled = sum(mirror_outcome(item) for item in moved_on)
    pulled_ids = {item["id"] for item in moved_on}
    pending = [t for t in tasks if t.status == ScheduledTask.Status.PENDING and str(t.pk) not in pulled_ids]
    pushed, errors = push_tasks(pending)
    return {"pushed": pushed, "pulled": pulled, "errors": errors}


def delete_tasks(tasks):
    """Delete tasks' items, then their rows, refusing any the worker is running; return counts.

    The item goes first: were the row's delete to fail, reconcile would push the item back from it.
    """
    counts = {"deleted": 0, "refused": 0, "errors": 0}
    for task in tasks:
        if not _dynamodb_first("deleted", task, counts, lambda: get_store().delete(task.pk)):
            continue
        task.delete()  # its post_delete hook deletes the item again after commit: a no-op by then
        counts["deleted"] += 1
    return counts


def _dynamodb_first(verb, task, counts, change):
    """Make an editor's change in DynamoDB; if refused or unreachable, count it and return False."""
    try:
        change()
    except Conflict as exc:
        counts["refused"] += 1
        if exc.item:
            mirror_outcome(exc.item)  # the row shows what the worker did meanwhile
        return False
    except StoreError as exc:
        logger.warning("Task %s not %s: %s", task.pk, verb, exc)
        counts["errors"] += 1
        return False
    return True


def delete_task(task_id):
    """Delete a task's item after its row was deleted; return True if DynamoDB accepted."""
    try:
        get_store().delete(task_id)
    except StoreError as exc:
        logger.error("Item of deleted task %s could not be deleted: %s", task_id, exc)
        return False
    return True


def mirror_outcome(item):
    """Copy the execution state of a DynamoDB item onto its row; return the number of rows updated."""
    completed = item.get("completed_at")
    # updated_at moves too: a client listing "newest change first" sees outcomes (update() skips auto_now).
    return ScheduledTask.objects.filter(pk=item["id"]).update(
        updated_at=timezone.now(),
        status=item["status"],
        attempts=item.get("attempts", 0),
        last_error=item.get("last_error", ""),
        outcome=item.get("outcome", ""),
        completed_at=datetime.fromisoformat(completed) if completed else None,
    )


def _mark(tasks, state, error=""):
    """Record a sync result on rows, only where the row still has the version that was pushed."""
    by_version = defaultdict(list)
    for task in tasks:
        by_version[task.version].append(task.pk)
    for version, ids in by_version.items():
        fields = {"sync_state": state, "sync_error": error[:2000]}
        if state == ScheduledTask.SyncState.SYNCED:
            fields["synced_version"] = version
        for start in range(0, len(ids), 500):
            ScheduledTask.objects.filter(pk__in=ids[start:start + 500], version=version).update(**fields)
