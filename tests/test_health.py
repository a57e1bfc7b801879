import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tasks.models import ScheduledTask
from worker.engine import run_tick


def status(*args):
    out = StringIO()
    try:
        call_command("scheduler_status", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_a_worker_that_just_ticked_with_nothing_overdue_is_healthy(db, make_task, store):
    make_task(due_at=timezone.now() + timedelta(days=3))
    run_tick()
    out, error = status()
    assert error is None
    assert "Tasks:        pending 1, running 0, done 0, failed 0, cancelled 0" in out
    assert "Overdue:      none" in out and "Sync errors:  0" in out
    assert out.strip().endswith("Healthy.")


def test_a_worker_that_never_ticked_is_unhealthy_and_exits_1(db):
    out, error = status()
    assert "Last tick:    never" in out
    assert error.returncode == 1 and "the worker has never ticked" in str(error)


def test_a_stale_heartbeat_is_unhealthy(db, store):
    store.put_heartbeat(now=timezone.now() - timedelta(minutes=7), summary={"due": 0})
    _out, error = status()
    assert "no tick for 7 min" in str(error)


def test_a_task_overdue_beyond_the_limit_is_unhealthy_and_named(db, make_task, store):
    store.put_heartbeat(now=timezone.now(), summary={"due": 0})
    late = make_task(content_id="film-late", due_at=timezone.now() - timedelta(minutes=10, seconds=30))
    make_task(content_id="film-now", due_at=timezone.now() - timedelta(minutes=1))
    out, error = status()
    assert f"Overdue:      2; oldest publish film-late ({late.pk}, pending)" in out
    assert "2 task(s) overdue; the oldest has waited 10 min" in str(error)
    _out, error = status("--max-late", "15")
    assert error is None


def test_a_task_due_a_minute_ago_is_not_yet_a_problem(db, make_task, store):
    store.put_heartbeat(now=timezone.now(), summary={"due": 0})
    make_task(due_at=timezone.now() - timedelta(minutes=1))
    out, error = status()
    assert error is None and "Overdue:      1; oldest" in out


def test_sync_errors_are_unhealthy(db, make_task, store):
    store.put_heartbeat(now=timezone.now(), summary={"due": 0})
    task = make_task()
    ScheduledTask.objects.filter(pk=task.pk).update(sync_state="error", sync_error="DynamoDB unreachable")
    out, error = status()
    assert "Sync errors:  1" in out
    assert "1 task(s) with sync errors: their latest change has not reached DynamoDB" in str(error)


def test_unreadable_dynamodb_is_unhealthy(db, settings):
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
    out, error = status()
    assert "Last tick:    unknown (DynamoDB cannot be read)" in out
    assert "DynamoDB cannot be read: DynamoDB unreachable (http://127.0.0.1:9)" in str(error)


def test_json_output_carries_the_same_report(db, make_task, store):
    run_tick()
    make_task(due_at=timezone.now() - timedelta(minutes=30, seconds=30))
    out, error = status("--json")
    report = json.loads(out)
    assert report["statuses"]["pending"] == 1 and report["overdue"] == 1
    assert report["oldest_overdue"]["content_id"].startswith("film-")
    assert report["problems"] == ["1 task(s) overdue; the oldest has waited 30 min"]
    assert error.returncode == 1


def test_a_negative_limit_is_refused(db):
    with pytest.raises(CommandError, match="--max-late must be 0 or more"):
        call_command("scheduler_status", "--max-late", "-1", stdout=StringIO())
