"""Zappa entry points: each is `name(event, context)`, logs, and delegates to the engine."""
import json
import logging

from tasks.reconcile import reconcile as reconcile_tasks
from worker import engine

logger = logging.getLogger(__name__)


def tick(event, context):
    """Perform the due tasks (Zappa's scheduled event, every minute); return the tick's summary."""
    budget = context.get_remaining_time_in_millis() / 1000 if hasattr(context, "get_remaining_time_in_millis") else None
    try:
        summary = engine.run_tick(budget_seconds=budget)
    except Exception as exc:
        logger.exception("Tick failed")
        # Not a TypeError: Zappa would take that for a signature mismatch and call us again without arguments.
        raise RuntimeError(f"tick failed: {exc}") from None
    logger.info("Tick %s", json.dumps(summary))
    return summary


def reconcile(event, context):
    """Repair drift between the database and DynamoDB (Zappa's scheduled event); return the counts."""
    try:
        counts = dict(reconcile_tasks())
    except Exception as exc:
        logger.exception("Reconcile failed")
        raise RuntimeError(f"reconcile failed: {exc}") from None
    logger.info("Reconcile %s", json.dumps(counts))
    return counts
