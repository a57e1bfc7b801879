"""The scheduler's health as editors and operators see it: the last tick, failed tasks, sync errors."""
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Q

from tasks.models import ScheduledTask
from tasks.store import StoreError, get_store

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
