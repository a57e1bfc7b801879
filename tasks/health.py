"""The scheduler's health as editors and operators see it: the last tick, failed tasks, sync errors."""
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Q

from tasks.models import ScheduledTask
from tasks.store import StoreError, from_epoch, get_store

STALE_AFTER = timedelta(minutes=5)
HEARTBEAT_CACHE_SECONDS = 20  # one DynamoDB read per 20 s, however many pages editors open


def last_tick():
    """Return the time of the last tick (aware UTC), None if there was none, or raise StoreError."""
    cached = cache.get("scheduler:last-tick")
    if cached is None:
        heartbeat = get_store().get_heartbeat()
        if heartbeat is None:
            return None  # not cached: the first tick shows at once
        cached = heartbeat["at"]
        cache.set("scheduler:last-tick", cached, HEARTBEAT_CACHE_SECONDS)
    return datetime.fromisoformat(cached)


def health(*, now):
    """Return {"last_tick", "stale", "unreachable", "failed", "sync_errors"} for the banner and scheduler_status."""
    counts = ScheduledTask.objects.aggregate(
        failed=Count("pk", filter=Q(status=ScheduledTask.Status.FAILED)),
        sync_errors=Count("pk", filter=Q(sync_state=ScheduledTask.SyncState.ERROR)))
    try:
        tick, unreachable = last_tick(), ""
    except StoreError as exc:
        tick, unreachable = None, str(exc)
    return {**counts, "last_tick": tick, "unreachable": unreachable,
            "stale": tick is None or now - tick > STALE_AFTER}


def status_report(*, now, max_late=timedelta(minutes=5)):
    """Return the scheduler's state for operators, with `problems`: empty when healthy.

    Unhealthy: DynamoDB unreadable, no tick for more than 5 minutes, a task due more than `max_late`
    ago and not yet performed (read from the due index, which the worker follows), or rows whose latest
    change has not reached DynamoDB (sync errors).
    """
    counts = dict(ScheduledTask.objects.values_list("status").annotate(n=Count("pk")).order_by())
    report = {"now": now, "statuses": {s: counts.get(s, 0) for s in ScheduledTask.Status.values},
              "sync_errors": ScheduledTask.objects.filter(sync_state=ScheduledTask.SyncState.ERROR).count(),
              "dynamodb_readable": False, "last_tick": None, "last_summary": None, "overdue": 0, "oldest_overdue": None,
              "problems": []}
    try:
        store = get_store()
        heartbeat = store.get_heartbeat()
        due = store.query_due(now).tasks
        oldest = store.get(due[0][1]) if due else None
    except StoreError as exc:
        report["problems"].append(f"DynamoDB cannot be read: {exc}")
        return report
    report["dynamodb_readable"] = True
    if heartbeat:
        report["last_tick"], report["last_summary"] = datetime.fromisoformat(heartbeat["at"]), heartbeat.get("summary")
    report["overdue"] = len(due)
    if oldest:
        report["oldest_overdue"] = {"id": oldest["id"], "action": oldest.get("action"),
                                    "content_id": oldest.get("content_id"), "status": oldest.get("status"),
                                    "scheduled_for": datetime.fromisoformat(oldest["scheduled_for"]),
                                    "due_since": from_epoch(due[0][0])}
    problems = report["problems"]
    if report["last_tick"] is None:
        problems.append("the worker has never ticked")
    elif now - report["last_tick"] > STALE_AFTER:
        problems.append(f"no tick for {_minutes(now - report['last_tick'])} (the worker ticks every minute)")
    if oldest and now - report["oldest_overdue"]["due_since"] > max_late:
        problems.append(f"{len(due)} task(s) overdue; the oldest has waited {_minutes(now - report['oldest_overdue']['due_since'])}")
    if report["sync_errors"]:
        problems.append(f"{report['sync_errors']} task(s) with sync errors: their latest change has not reached "
                        "DynamoDB (see each row's sync error; `manage.py reconcile` retries)")
    return report


def _minutes(delta):
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
