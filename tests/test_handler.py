import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from zappa.handler import LambdaHandler

from tasks.models import ScheduledTask
from worker import handler

ROOT = Path(__file__).resolve().parents[1]
ZAPPA_SETTINGS = json.loads((ROOT / "zappa_settings.json").read_text())


class Context:
    """Enough of a Lambda context for Zappa and the tick."""

    aws_request_id = "test-request"
    function_name = "slow-scheduler-dev"

    def __init__(self, remaining_ms=60_000):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


def scheduled_event(function_path, stage="dev"):
    project = ZAPPA_SETTINGS[stage].get("project_name", "slow-scheduler")
    return {
        "version": "0", "id": "f0e9c1d2", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "eu-west-1",
        "resources": [f"arn:aws:events:eu-west-1:123456789012:rule/{project}-{stage}-{function_path}"],
        "detail": {},
    }


@pytest.fixture
def zappa_handler(monkeypatch, tmp_path):
    """Zappa's own LambdaHandler singleton, built from the settings module Zappa itself writes for `dev`.

    The handler writes os.environ and the root log level, so both are put back afterwards.
    """
    subprocess.run(
        [str(Path(sys.executable).parent / "zappa"), "save-python-settings-file", "dev",
         "-o", str(tmp_path / "zappa_settings.py")],
        cwd=ROOT, env={**os.environ, "VIRTUAL_ENV": sys.prefix}, check=True, capture_output=True,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(os, "environ", os.environ.copy())
    level = logging.getLogger().level
    LambdaHandler._LambdaHandler__instance = None
    LambdaHandler("zappa_settings")
    yield LambdaHandler
    LambdaHandler._LambdaHandler__instance = None
    sys.modules.pop("zappa_settings", None)
    logging.getLogger().setLevel(level)


@pytest.mark.parametrize("stage", ["dev", "production"])
def test_the_stage_schedules_the_tick_every_minute(stage):
    dev = ZAPPA_SETTINGS["dev"]
    events = ZAPPA_SETTINGS[stage].get("events", dev["events"])
    assert {"function": "worker.handler.tick", "expression": "rate(1 minute)"} in events
    assert ZAPPA_SETTINGS[stage].get("runtime", dev["runtime"]).startswith("python3")


def test_zappa_routes_the_scheduled_event_to_our_tick_and_a_due_task_is_done(zappa_handler, make_task, store):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    (event,) = [e for e in ZAPPA_SETTINGS["dev"]["events"] if e["function"].endswith(".tick")]
    summary = zappa_handler.lambda_handler(scheduled_event(event["function"]), Context())
    assert summary["done"] == 1
    assert store.get(task.pk)["status"] == "done"
    task.refresh_from_db()
    assert task.status == "done"


def test_a_failing_tick_is_logged_with_its_traceback_and_raises_no_type_error(monkeypatch, caplog):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise TypeError("a bug deep inside the engine")

    monkeypatch.setattr(handler.engine, "run_tick", broken)
    with pytest.raises(RuntimeError, match="tick failed: a bug deep inside"):
        handler.tick({}, Context())
    (record,) = [r for r in caplog.records if r.getMessage() == "Tick failed"]
    assert record.exc_info and "a bug deep inside" in str(record.exc_info[1])
    # Through Zappa's own retry logic: a RuntimeError is not retried with fewer arguments.
    with pytest.raises(RuntimeError):
        LambdaHandler.run_function(handler.tick, {}, Context())
    assert len(calls) == 2


def test_the_tick_passes_the_lambda_time_left_as_its_budget(monkeypatch):
    seen = {}
    monkeypatch.setattr(handler.engine, "run_tick", lambda **kwargs: seen.update(kwargs) or {})
    handler.tick({}, Context(remaining_ms=42_000))
    assert seen == {"budget_seconds": 42.0}


def test_zappa_routes_the_reconcile_event_and_a_lost_push_is_repaired(zappa_handler, db, store):
    task = ScheduledTask.objects.create(content_id="c", action="publish", due_at=timezone.now() + timedelta(days=1))
    (event,) = [e for e in ZAPPA_SETTINGS["dev"]["events"] if e["function"].endswith(".reconcile")]
    assert event["expression"] == "rate(10 minutes)"
    counts = zappa_handler.lambda_handler(scheduled_event(event["function"]), Context())
    assert counts["pushed"] == 1
    assert store.get(task.pk)["status"] == "pending"
