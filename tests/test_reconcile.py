from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tasks.models import ScheduledTask
from tasks.reconcile import reconcile
from tests.conftest import free_port

ZEROS = {"pushed": 0, "pulled": 0, "cancelled": 0, "deleted": 0, "errors": 0}


def counts(**nonzero):
    return {**ZEROS, **nonzero}


@pytest.mark.django_db(transaction=True)
def test_fifty_admin_saves_while_dynamodb_is_down_are_repaired_by_reconcile(admin_client, settings, store):
    up = settings.SCHEDULER_DYNAMODB_ENDPOINT_URL
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    due = timezone.localtime(timezone.now() + timedelta(days=3))
    for n in range(50):
        response = admin_client.post("/admin/tasks/scheduledtask/add/", {
            "content_id": f"film-{n}", "action": "publish", "due_at_0": due.strftime("%Y-%m-%d"),
            "due_at_1": due.strftime("%H:%M:%S"), "payload": "{}", "key": ""}, follow=True)
        assert response.status_code == 200 and "not yet sent to the scheduler" in response.content.decode()
    assert ScheduledTask.objects.filter(sync_state="error").count() == 50
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = up
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert out.getvalue().strip() == "Reconcile repaired: 50 pushed, 0 pulled, 0 cancelled, 0 deleted, 0 errors."
    items = store.batch_get(ScheduledTask.objects.values_list("pk", flat=True))
    assert len(items) == 50 and {i["status"] for i in items.values()} == {"pending"}
    assert ScheduledTask.objects.filter(sync_state="synced", synced_version=1).count() == 50
    assert reconcile() == counts()


def test_a_push_lost_between_commit_and_dynamodb_is_repaired(db, store):
    task = ScheduledTask.objects.create(content_id="c", action="publish", due_at=timezone.now() + timedelta(days=1))
    assert store.get(task.pk) is None  # the on_commit work never ran
    assert reconcile() == counts(pushed=1)
    assert store.get(task.pk)["status"] == "pending"
    assert reconcile() == counts()


def test_an_item_deleted_behind_the_admins_back_is_pushed_again(make_task, store):
    task = make_task()
    store.client.delete_item(TableName=store.table, Key={"id": {"S": str(task.pk)}})
    assert reconcile() == counts(pushed=1)
    assert store.get(task.pk)["version"] == task.version
    assert reconcile() == counts()


def test_a_row_deleted_behind_dynamodbs_back_leaves_no_item_that_could_fire(make_task, store):
    task = make_task(due_at=timezone.now() + timedelta(minutes=5))
    ScheduledTask.objects.filter(pk=task.pk)._raw_delete("default")  # no signal, as a raw SQL delete
    assert reconcile() == counts(deleted=1)
    assert store.get(task.pk) is None
    assert reconcile() == counts()


def test_an_outcome_the_worker_could_not_mirror_is_pulled(make_task, store):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    claimed = store.claim(task.pk, timezone.now(), 300)
    store.finish(claimed, status="done", now=timezone.now(), outcome="sent")  # database away: no mirror
    assert reconcile() == counts(pulled=1)
    task.refresh_from_db()
    assert (task.status, task.outcome, task.attempts) == ("done", "sent", 1)
    assert reconcile() == counts()


def test_a_cancel_that_never_reached_dynamodb_is_applied(make_task, store):
    task = make_task()
    ScheduledTask.objects.filter(pk=task.pk).update(status="cancelled", version=2)
    assert reconcile() == counts(cancelled=1)
    item = store.get(task.pk)
    assert item["status"] == "cancelled" and "due_shard" not in item
    assert reconcile() == counts()


def test_full_finds_an_older_item_that_the_row_claims_is_synced(make_task, store):
    task = make_task()
    ScheduledTask.objects.filter(pk=task.pk).update(content_id="newer", version=2, synced_version=2)
    assert reconcile() == counts()  # the cheap run trusts sync_state
    assert reconcile(full=True) == counts(pushed=1)
    assert store.get(task.pk)["content_id"] == "newer"
    assert reconcile(full=True) == counts()


def test_full_deletes_a_finished_item_whose_row_is_gone(make_task, store):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    store.finish(store.claim(task.pk, timezone.now(), 300), status="done", now=timezone.now(), outcome="ok")
    ScheduledTask.objects.filter(pk=task.pk)._raw_delete("default")
    assert reconcile() == counts()
    assert reconcile(full=True) == counts(deleted=1)
    assert reconcile(full=True) == counts()


def test_a_dry_run_counts_and_changes_nothing(db, store):
    task = ScheduledTask.objects.create(content_id="c", action="publish", due_at=timezone.now() + timedelta(days=1))
    out = StringIO()
    call_command("reconcile", "--dry-run", stdout=out)
    assert "would repair: 1 pushed" in out.getvalue()
    assert store.get(task.pk) is None


@pytest.mark.moto_server
def test_with_the_database_unreachable_a_tick_completes_in_dynamodb_and_reconcile_mirrors_later(
        make_task, store, tmp_path, receiver):
    from tests.test_concurrency import finished, start_worker

    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    worker = start_worker(store, tmp_path, receiver, seconds=60,
                          DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/gone")
    assert finished(worker)[0] == 0
    assert store.get(task.pk)["status"] == "done" and len(receiver.requests) == 1
    task.refresh_from_db()
    assert task.status == "pending"  # the mirror could not reach the database
    assert reconcile() == counts(pulled=1)
    task.refresh_from_db()
    assert task.status == "done" and task.outcome.startswith("webhook answered 200")


def test_a_row_whose_payload_dynamodb_cannot_hold_is_an_error_not_a_crash(db, store):
    # Found by trying the API: a 45-digit number stopped every reconcile. The checks now refuse it on the
    # way in; a row written behind them is reported, and reconcile goes on with the rest.
    bad = ScheduledTask.objects.create(content_id="c", action="publish", due_at=timezone.now() + timedelta(days=1),
                                       payload={"n": 10 ** 44 + 1})
    assert reconcile()["errors"] == 1
    bad.refresh_from_db()
    assert bad.sync_state == "error" and "DynamoDB cannot hold a value" in bad.sync_error
