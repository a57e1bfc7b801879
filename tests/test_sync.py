from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tasks import sync
from tasks.models import ScheduledTask
from worker.engine import run_tick
from tests.conftest import free_port


def test_a_saved_task_reaches_dynamodb_after_commit(make_task, store):
    task = make_task(content_id="film-42")
    item = store.get(task.pk)
    assert item["content_id"] == "film-42" and item["version"] == 1 and item["status"] == "pending"
    assert task.sync_state == "synced" and task.synced_version == 1


def test_nothing_is_pushed_before_commit(db, store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task = ScheduledTask.objects.create(content_id="c", action="publish", due_at=timezone.now())
        assert store.get(task.pk) is None
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_writes_no_item(store):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            task = ScheduledTask.objects.create(content_id="c", action="publish", due_at=timezone.now())
            raise RuntimeError("editor's save failed later in the request")
    assert store.get(task.pk) is None
    assert not ScheduledTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_transaction_pushes_for_real(store):
    with transaction.atomic():
        task = ScheduledTask.objects.create(content_id="c", action="publish", due_at=timezone.now())
    assert store.get(task.pk)["content_id"] == "c"


def test_an_edit_moves_the_one_item(make_task, store, django_capture_on_commit_callbacks):
    task = make_task()
    later = task.due_at + timedelta(days=2)
    for hours in (1, 2, 3):
        task.due_at = later + timedelta(hours=hours)
        task.record_change()
        with django_capture_on_commit_callbacks(execute=True):
            task.save()
    item = store.get(task.pk)
    assert item["version"] == 4
    for hours in (1, 2):  # the old times never fire
        assert run_tick(now=later + timedelta(hours=hours, minutes=30))["claimed"] == 0
    assert item["scheduled_for"] == (later + timedelta(hours=3)).isoformat().replace("+00:00", "Z")
    assert len(store.query_due(later + timedelta(days=1)).tasks) == 1


def test_a_delete_removes_the_item(make_task, store, django_capture_on_commit_callbacks):
    task = make_task()
    with django_capture_on_commit_callbacks(execute=True):
        task.delete()
    assert store.get(task.pk) is None


def test_unreachable_dynamodb_leaves_the_row_in_error_without_raising(make_task, settings, store):
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    task = make_task()
    assert task.sync_state == "error"
    assert "unreachable" in task.sync_error
    assert task.synced_version == 0


def test_a_refused_push_marks_the_row_and_mirrors_the_real_state(make_task, store, django_capture_on_commit_callbacks):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    store.claim(task.pk, timezone.now(), 300)  # the worker got there first
    task.content_id = "changed"
    task.record_change()
    with django_capture_on_commit_callbacks(execute=True):
        task.save()
    task.refresh_from_db()
    assert task.sync_state == "error" and "already running" in task.sync_error
    assert task.status == "running"
    assert store.get(task.pk)["content_id"] != "changed"


def test_push_tasks_batches_far_new_tasks_and_pushes_soon_ones_singly(db, store):
    far = timezone.now() + timedelta(days=90)
    tasks = ScheduledTask.objects.bulk_create(
        [ScheduledTask(content_id=f"c{i}", action="publish", due_at=far) for i in range(60)]
        + [ScheduledTask(content_id="soon", action="withdraw", due_at=timezone.now())]
    )
    calls = []
    store.client.meta.events.register("before-parameter-build.dynamodb.*", lambda model, **kw: calls.append(model.name))
    assert sync.push_tasks(tasks) == (61, 0)
    assert calls == ["BatchGetItem", "BatchWriteItem", "BatchWriteItem", "BatchWriteItem", "UpdateItem"]
    assert len(store.batch_get([t.pk for t in tasks])) == 61
    assert ScheduledTask.objects.filter(sync_state="synced", synced_version=1).count() == 61
    assert sync.push_tasks(tasks) == (61, 0)  # again: every item is there already, nothing changes


def test_an_edit_overwritten_by_a_batch_in_flight_is_pushed_again(db, store, monkeypatch):
    far = timezone.now() + timedelta(days=90)
    (task,) = ScheduledTask.objects.bulk_create([ScheduledTask(content_id="old", action="publish", due_at=far)])
    batch_put_new = store.batch_put_new

    def editor_saves_meanwhile(tasks):
        ScheduledTask.objects.filter(pk=task.pk).update(content_id="new", version=2)
        sync.push_task(task.pk)  # the editor's own push lands first...
        batch_put_new(tasks)  # ...and the batch, read before the edit, overwrites it with version 1

    monkeypatch.setattr(store, "batch_put_new", editor_saves_meanwhile)
    sync.push_tasks([task])
    item = store.get(task.pk)
    assert (item["version"], item["content_id"]) == (2, "new")
    task.refresh_from_db()
    assert (task.sync_state, task.synced_version) == ("synced", 2)


def test_an_unexpected_push_error_marks_the_row_instead_of_raising(make_task, store, monkeypatch):
    def broken(task):
        raise TypeError("Unsupported type <class 'object'>")

    monkeypatch.setattr(store, "push", broken)
    task = make_task()
    assert task.sync_state == "error" and task.sync_error == "TypeError: Unsupported type <class 'object'>"


def test_mirror_outcome_copies_the_execution_state(make_task):
    task = make_task()
    sync.mirror_outcome({"id": str(task.pk), "status": "done", "attempts": 1, "outcome": "sent",
                         "completed_at": "2027-03-01T09:00:05Z"})
    task.refresh_from_db()
    assert (task.status, task.attempts, task.outcome) == ("done", 1, "sent")
    assert task.completed_at.isoformat() == "2027-03-01T09:00:05+00:00"


def test_cancel_with_dynamodb_down_changes_nothing_and_says_so(make_task, settings, store):
    task = make_task()
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    assert sync.cancel_tasks([task]) == {"cancelled": 0, "refused": 0, "errors": 1}
    task.refresh_from_db()
    assert task.status == "pending" and task.version == 1


def test_a_cancelled_task_is_never_run_and_reconcile_then_finds_nothing(make_task, store):
    from tasks.reconcile import reconcile
    from worker.engine import run_tick

    task = make_task(due_at=timezone.now() + timedelta(seconds=1))
    assert sync.cancel_tasks([task])["cancelled"] == 1
    assert run_tick(now=timezone.now() + timedelta(days=1))["due"] == 0
    assert set(reconcile().values()) == {0}
