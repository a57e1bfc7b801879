import json
from datetime import timedelta

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tasks.models import ScheduledTask
from tests.conftest import WEBHOOK_SECRET
from worker.engine import backoff_seconds, run_tick


def test_a_due_task_is_performed_once_and_mirrored(make_task, store):
    now = timezone.now()
    task = make_task(due_at=now - timedelta(seconds=1))
    summary = run_tick(now=now)
    assert (summary["claimed"], summary["done"]) == (1, 1)
    item = store.get(task.pk)
    assert item["status"] == "done" and "due_shard" not in item
    assert "nothing was sent" in item["outcome"]
    task.refresh_from_db()
    assert task.status == "done" and task.attempts == 1 and "nothing was sent" in task.outcome
    assert task.completed_at is not None


def test_each_outcome_is_logged_as_one_json_line(make_task, caplog):
    task = make_task(due_at=timezone.now() - timedelta(seconds=3), content_id="film-7")
    with caplog.at_level("INFO", logger="worker.engine"):
        run_tick()
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "worker.engine"]
    assert line["task_id"] == str(task.pk) and line["content_id"] == "film-7" and line["action"] == "publish"
    assert line["outcome"] == "done" and line["attempt"] == 1 and line["lateness_seconds"] >= 3


def test_a_task_due_one_second_later_is_untouched(make_task, store):
    now = timezone.now().replace(microsecond=0)
    task = make_task(due_at=now + timedelta(seconds=1))
    assert run_tick(now=now)["claimed"] == 0
    assert run_tick(now=now + timedelta(milliseconds=500))["claimed"] == 0  # never early, not even by half a second
    assert store.get(task.pk)["status"] == "pending"
    assert run_tick(now=now + timedelta(seconds=1))["done"] == 1


def test_a_done_task_never_runs_again(make_task, receiver):
    now = timezone.now()
    make_task(due_at=now - timedelta(minutes=5))
    run_tick(now=now)
    again = run_tick(now=now + timedelta(days=400))
    assert again["due"] == 0 and again["claimed"] == 0
    assert len(receiver.requests) == 1


def test_the_webhook_is_signed_so_a_standard_webhooks_receiver_verifies_it(make_task, receiver):
    now = timezone.now()
    task = make_task(due_at=now - timedelta(seconds=90), content_id="film-138029", payload={"territory": "GB", "x": 0.25})
    assert run_tick(now=now)["done"] == 1
    (request,) = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    body = Webhook(WEBHOOK_SECRET).verify(request["body"], headers)  # raises if the signature is wrong
    assert headers["webhook-id"] == headers["idempotency-key"] == f"{task.pk}:1"
    assert body["type"] == "task.publish"
    data = body["data"]
    assert data["content_id"] == "film-138029" and data["payload"] == {"territory": "GB", "x": 0.25}
    assert data["attempt"] == 1 and data["lateness_seconds"] >= 89
    task.refresh_from_db()
    assert task.status == "done" and task.outcome.startswith("webhook answered 200")


def test_a_tampered_body_fails_verification(make_task, receiver):
    make_task(due_at=timezone.now() - timedelta(seconds=1))
    run_tick()
    request = receiver.requests[0]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    body = json.loads(request["body"])
    body["data"]["content_id"] = "someone-else"
    Webhook(WEBHOOK_SECRET).verify(request["body"], headers)  # the original verifies
    try:
        Webhook(WEBHOOK_SECRET).verify(json.dumps(body), headers)
    except Exception as exc:
        assert "signature" in str(exc).lower()
    else:
        raise AssertionError("a tampered body verified")


def test_a_client_error_fails_the_task_with_the_response_text(make_task, receiver, store):
    receiver.replies.append((400, "content film-1 does not exist"))
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    assert run_tick()["failed"] == 1
    task.refresh_from_db()
    assert task.status == "failed" and "content film-1 does not exist" in task.last_error
    assert "due_shard" not in store.get(task.pk)


def test_a_server_error_is_retried_later_with_the_same_idempotency_key(make_task, receiver, store):
    receiver.replies.append((503, "busy"))
    now = timezone.now()
    task = make_task(due_at=now - timedelta(seconds=1))
    assert run_tick(now=now)["retried"] == 1
    item = store.get(task.pk)
    assert item["status"] == "pending" and item["attempts"] == 1 and "503" in item["last_error"]
    assert run_tick(now=now + timedelta(seconds=5))["claimed"] == 0  # backing off
    assert run_tick(now=now + timedelta(hours=2))["done"] == 1
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert [b["data"]["attempt"] for b in receiver.bodies()] == [1, 2]


def test_an_action_no_longer_registered_fails_naming_the_valid_ones(make_task, settings):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1), action="withdraw")
    settings.SCHEDULER_ACTIONS = {"publish": "worker.actions.default_handler"}
    assert run_tick()["failed"] == 1
    task.refresh_from_db()
    assert task.status == "failed" and task.last_error == "Unknown action 'withdraw'; valid actions: publish."


def test_the_last_allowed_attempt_fails_instead_of_retrying(make_task, receiver, settings, store):
    settings.SCHEDULER_MAX_ATTEMPTS = 2
    receiver.replies.extend([(500, "no"), (500, "still no")])
    now = timezone.now()
    task = make_task(due_at=now - timedelta(seconds=1))
    run_tick(now=now)
    run_tick(now=now + timedelta(hours=2))
    item = store.get(task.pk)
    assert item["status"] == "failed" and "gave up after 2 attempts" in item["last_error"]


def test_backoff_grows_with_jitter_up_to_the_cap(settings):
    settings.SCHEDULER_RETRY_BASE_SECONDS = 60
    assert 30 <= backoff_seconds(1) <= 60
    assert 120 <= backoff_seconds(3) <= 240
    assert backoff_seconds(30) <= 3600
    assert backoff_seconds(1, retry_after=90) == 90


def count_calls(store):
    """Record the DynamoDB operations the gateway makes from now on."""
    calls = []
    store.client.meta.events.register("before-parameter-build.dynamodb.*", lambda model, **kw: calls.append(model.name))
    return calls


def test_an_idle_tick_writes_only_its_heartbeat(store, settings):
    calls = count_calls(store)
    summary = run_tick()
    assert summary["due"] == 0
    assert calls == ["Query"] * settings.SCHEDULER_SHARDS + ["PutItem"]
    heartbeat = store.get_heartbeat()
    assert heartbeat["summary"]["due"] == 0 and heartbeat["at"].endswith("Z")
    assert store.query_due(timezone.now() + timedelta(days=3650)).tasks == []  # never a task


def test_a_tick_with_its_budget_nearly_spent_claims_nothing(make_task, store, settings):
    tasks = [make_task(due_at=timezone.now() - timedelta(seconds=1)) for _ in range(3)]
    calls = count_calls(store)
    summary = run_tick(budget_seconds=settings.SCHEDULER_WEBHOOK_TIMEOUT_SECONDS + 1)
    assert (summary["claimed"], summary["deferred"]) == (0, 3)
    assert "UpdateItem" not in calls
    assert {store.get(t.pk)["status"] for t in tasks} == {"pending"}
    assert run_tick()["done"] == 3


def test_two_tasks_due_the_same_second_both_run(make_task, receiver):
    due = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    make_task(due_at=due, content_id="a")
    make_task(due_at=due, content_id="b")
    assert run_tick()["done"] == 2
    assert sorted(b["data"]["content_id"] for b in receiver.bodies()) == ["a", "b"]


def test_after_an_outage_overdue_tasks_run_oldest_first_with_their_lateness(make_task, receiver, settings):
    settings.SCHEDULER_CONCURRENCY = 1
    now = timezone.now()
    for hours in (5, 1, 48, 3):
        make_task(due_at=now - timedelta(hours=hours), content_id=f"late-{hours}h")
    assert run_tick(now=now)["done"] == 4
    bodies = receiver.bodies()
    assert [b["data"]["content_id"] for b in bodies] == ["late-48h", "late-5h", "late-3h", "late-1h"]
    assert [b["data"]["lateness_seconds"] // 3600 for b in bodies] == [48, 5, 3, 1]


def test_503_twice_then_200_is_done_on_the_third_attempt_after_backoffs(make_task, receiver, store):
    receiver.replies.extend([(503, "busy"), (503, "still busy")])
    now = timezone.now()
    task = make_task(due_at=now - timedelta(seconds=1))
    run_tick(now=now)
    first_retry = store.get(task.pk)["due_at"]
    assert first_retry >= (now + timedelta(seconds=30)).timestamp()
    assert run_tick(now=now + timedelta(seconds=29))["claimed"] == 0
    run_tick(now=now + timedelta(hours=1))
    assert store.get(task.pk)["due_at"] >= (now + timedelta(hours=1, seconds=60)).timestamp()
    assert run_tick(now=now + timedelta(hours=3))["done"] == 1
    assert [b["data"]["attempt"] for b in receiver.bodies()] == [1, 2, 3]
    assert len(set(receiver.keys())) == 1
    task.refresh_from_db()
    assert task.status == "done" and task.attempts == 3


def test_429_waits_as_long_as_retry_after_says(make_task, receiver, store):
    receiver.replies.append((429, "slow down", {"Retry-After": "900"}))
    now = timezone.now()
    task = make_task(due_at=now - timedelta(seconds=1))
    assert run_tick(now=now)["retried"] == 1
    assert store.get(task.pk)["due_at"] - now.timestamp() >= 900


def test_a_hanging_receiver_times_out_and_is_retried(make_task, receiver, settings, store):
    settings.SCHEDULER_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.delay = 3
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    assert run_tick()["retried"] == 1
    item = store.get(task.pk)
    assert item["status"] == "pending" and "timed out after 0.5 s" in item["last_error"]


def test_a_failed_task_retried_by_an_editor_gets_its_attempts_again(make_task, store, settings):
    from tasks.sync import retry_tasks

    settings.SCHEDULER_MAX_ATTEMPTS = 1
    task = make_task(due_at=timezone.now() - timedelta(seconds=5))
    claimed = store.claim(task.pk, timezone.now(), 300)
    store.finish(claimed, status="failed", now=timezone.now(), error="503 after the last attempt")
    ScheduledTask.objects.filter(pk=task.pk).update(status="failed", attempts=1)
    assert retry_tasks(ScheduledTask.objects.filter(pk=task.pk))["retried"] == 1
    assert run_tick(now=timezone.now() + timedelta(seconds=1))["done"] == 1  # not "gave up": attempt 2 of 1 + 1
    item = store.get(task.pk)
    assert item["status"] == "done" and item["attempts"] == 2
