"""One tick: find due tasks in the sparse index, claim each, perform on a bounded pool, record outcomes."""
import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from tasks import sync
from tasks.store import StoreError, get_store
from worker import actions

logger = logging.getLogger(__name__)

RETRY_CAP_SECONDS = 3600
SAFETY_MARGIN_SECONDS = 5
LOST_STREAK, MAX_REFRESHES = 32, 3  # when ticks overlap: re-read the index instead of losing claim after claim


def run_tick(*, now=None, store=None, budget_seconds=None):
    """Perform every task due at `now` (default: the clock) once; return a summary of counts.

    A performer claims a task only when it is free to start it at once, and a task is handed out only
    while the budget (a Lambda's remaining time) leaves room for its longest run plus a margin: so every
    claimed task can finish inside the budget, and what is left stays due for the next tick.
    """
    store = store or get_store()
    started, base = time.monotonic(), now or timezone.now()
    summary = {"due": 0, "claimed": 0, "done": 0, "retried": 0, "failed": 0, "skipped": 0, "lost": 0, "deferred": 0}

    def clock():
        return base + timedelta(seconds=time.monotonic() - started)

    def can_finish_another():
        # requests applies the timeout to connecting and to reading apart, so a run may take both.
        longest = 2 * settings.SCHEDULER_WEBHOOK_TIMEOUT_SECONDS + SAFETY_MARGIN_SECONDS
        return budget_seconds is None or budget_seconds - (time.monotonic() - started) >= longest

    due = store.query_due(base)
    summary["due"], summary["read"], summary["pages"] = len(due.tasks), due.scanned, due.pages
    free, streak = threading.BoundedSemaphore(settings.SCHEDULER_CONCURRENCY), _Streak()
    with ThreadPoolExecutor(max_workers=settings.SCHEDULER_CONCURRENCY, thread_name_prefix="perform") as pool:
        running, order, position, refreshes = [], [task_id for _d, task_id in due.tasks], 0, 0
        while position < len(order):
            free.acquire()
            if not can_finish_another():
                free.release()
                summary["deferred"] = len(order) - position
                logger.info("Tick budget nearly spent: %d due task(s) left for the next tick", summary["deferred"])
                break
            if streak.lost >= LOST_STREAK and refreshes < MAX_REFRESHES:
                # Another tick is working the same list. The index no longer lists what it (or this
                # tick) has claimed, since a claim moves due_at to the lease end: ask it again.
                due = store.query_due(base)
                summary["read"], summary["pages"] = summary["read"] + due.scanned, summary["pages"] + due.pages
                order, position, refreshes = [t for _d, t in due.tasks], 0, refreshes + 1
                streak.reset()
                if not order:
                    free.release()
                    break
            elif streak.lost:
                _step_aside(order, position)
            future = pool.submit(claim_and_perform, order[position], store, clock, streak)
            future.add_done_callback(lambda _: free.release())
            running.append(future)
            position += 1
        for future in as_completed(running):
            kind, item = future.result()
            summary[kind] += 1
            summary["claimed"] += kind != "skipped"
            if item is not None:
                _mirror(item)  # in this thread: the database connection stays with the tick
    summary["seconds"] = round(time.monotonic() - started, 3)
    try:
        store.put_heartbeat(now=clock(), summary=summary)
    except StoreError:
        logger.exception("Heartbeat not written; the tick itself completed: %s", summary)
    return summary


class _Streak:
    """Claims lost in a row, across the performers of one tick."""

    def __init__(self):
        self.lost, self._lock = 0, threading.Lock()

    def record(self, won):
        with self._lock:
            self.lost = 0 if won else self.lost + 1

    def reset(self):
        self.record(True)


def claim_and_perform(task_id, store, clock, streak):
    """Claim a task and, if this tick won it, perform it; return (kind, item), kind "skipped" if lost."""
    claimed = store.claim(task_id, clock(), settings.SCHEDULER_LEASE_SECONDS)
    streak.record(claimed is not None)
    if claimed is None:
        return "skipped", None  # another worker has it, or it is no longer due
    return perform(claimed, store, clock)


def _step_aside(order, position):
    """After a lost claim, go on from a random place in the rest of `order` (from `position`, wrapping round).

    A lost claim means another tick is working down the same list; following it claim by claim would
    lose every claim. Alone, a tick loses none and keeps to oldest first; side by side, ticks spread out.
    """
    rest = order[position:]
    if rest:
        cut = random.randrange(len(rest))
        order[position:] = rest[cut:] + rest[:cut]


def perform(claimed, store, clock):
    """Run one claimed task's action and record its outcome in DynamoDB; return (kind, item)."""
    now = clock()
    scheduled_for = datetime.fromisoformat(claimed["scheduled_for"])
    job = actions.Job(
        id=claimed["id"], action=claimed["action"], content_id=claimed["content_id"],
        payload=claimed.get("payload") or {}, version=claimed["version"], attempt=claimed["attempts"],
        scheduled_for=scheduled_for, lateness_seconds=max(0, int((now - scheduled_for).total_seconds())),
    )
    outcome, retry_after = None, None
    limit = claimed.get("attempt_limit", settings.SCHEDULER_MAX_ATTEMPTS)  # an editor's retry raises it
    if job.attempt > limit:
        # Every earlier attempt died without recording an outcome (a crash, a timeout of the whole run):
        # stop here rather than deliver it again and again.
        error = f"gave up: {job.attempt - 1} attempts ended without an outcome"
        return _record(store, claimed, job, clock, kind="failed", error=error)
    try:
        outcome = actions.resolve(job.action)(job)
    except actions.PermanentFailure as exc:
        kind, error = "failed", str(exc)
    except actions.RetryableFailure as exc:
        kind, error, retry_after = "retried", str(exc), exc.retry_after
    except Exception as exc:  # a handler's own bug or an unforeseen fault: retry, within the attempt limit
        logger.exception("Task %s: action %s raised", job.id, job.action)
        kind, error = "retried", f"{type(exc).__name__}: {exc}"
    else:
        kind, error = "done", ""
    if kind == "retried" and job.attempt >= limit:
        kind, error = "failed", f"gave up after {job.attempt} attempts: {error}"
    return _record(store, claimed, job, clock, kind=kind, error=error, outcome=outcome, retry_after=retry_after)


def _record(store, claimed, job, clock, *, kind, error, outcome=None, retry_after=None):
    """Write how a run ended to DynamoDB, log it as one JSON line; return (kind, item)."""
    finished_at = clock()
    try:
        if kind == "done":
            item = store.finish(claimed, status="done", now=finished_at, outcome=str(outcome or "done"))
        elif kind == "failed":
            item = store.finish(claimed, status="failed", now=finished_at, error=error)
        else:
            retry_at = finished_at + timedelta(seconds=backoff_seconds(job.attempt, retry_after))
            item = store.finish(claimed, status="pending", now=finished_at, error=error, retry_at=retry_at)
    except StoreError:
        # The effect happened but its record did not: the lease runs out and the task runs again with
        # the same idempotency key, which is how the receiver can tell.
        logger.exception("Task %s: outcome %s could not be recorded", job.id, kind)
        item = None
    if item is None:
        kind = "lost"
    logger.info("%s", json.dumps({
        "task_id": job.id, "action": job.action, "content_id": job.content_id, "outcome": kind,
        "attempt": job.attempt, "lateness_seconds": job.lateness_seconds, "error": error or None,
    }))
    return kind, item


def backoff_seconds(attempt, retry_after=None):
    """Return the wait before another attempt: exponential from the base, capped, with jitter."""
    if retry_after is not None:
        return min(max(retry_after, 1), RETRY_CAP_SECONDS)
    ceiling = min(settings.SCHEDULER_RETRY_BASE_SECONDS * 2 ** (attempt - 1), RETRY_CAP_SECONDS)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _mirror(item):
    """Copy an outcome onto its SQL row; the database may be away, and reconcile catches up later."""
    try:
        sync.mirror_outcome(item)
    except Exception:
        logger.warning("Outcome of task %s not mirrored to the database", item.get("id"), exc_info=True)
