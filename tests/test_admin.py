from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import ScheduledTask
from tests.conftest import free_port


@pytest.fixture
def editor(admin_client):
    return admin_client


def add_form(due_at, **overrides):
    local = timezone.localtime(due_at)
    form = {"content_id": "film-9", "action": "publish", "due_at_0": local.strftime("%Y-%m-%d"),
            "due_at_1": local.strftime("%H:%M:%S"), "payload": '{"territory": "GB"}', "key": ""}
    form.update(overrides)
    return form


def test_an_editor_creates_a_task_in_the_editors_zone_and_it_reaches_dynamodb(
        editor, store, settings, django_capture_on_commit_callbacks):
    settings.TIME_ZONE = "Europe/Berlin"
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post("/admin/tasks/scheduledtask/add/", {
            **add_form(timezone.now()), "due_at_0": "2027-07-01", "due_at_1": "09:00:00"})
    assert response.status_code == 302, response.content.decode()[:2000]
    task = ScheduledTask.objects.get()
    assert store.get(task.pk)["scheduled_for"] == "2027-07-01T07:00:00Z"
    listing = editor.get("/admin/tasks/scheduledtask/").content.decode()
    assert "2027-07-01 09:00 CEST" in listing


def test_the_form_names_the_zone_and_offers_only_registered_actions(editor, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    page = editor.get("/admin/tasks/scheduledtask/add/").content.decode()
    assert "time zone, Europe/Berlin." in page
    assert '<option value="publish">' in page and '<option value="withdraw">' in page


def test_an_unknown_action_or_a_non_object_payload_is_refused(editor):
    response = editor.post("/admin/tasks/scheduledtask/add/", add_form(timezone.now(), action="archive", payload="[1]"))
    assert response.status_code == 200
    assert not ScheduledTask.objects.exists()
    page = response.content.decode()
    assert "Select a valid choice" in page and "Payload must be a JSON object" in page


def test_an_edit_bumps_the_version_and_moves_the_item(editor, make_task, store, django_capture_on_commit_callbacks):
    task = make_task()
    new_due = task.due_at + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(f"/admin/tasks/scheduledtask/{task.pk}/change/", add_form(new_due, content_id=task.content_id))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.version == 2 and task.sync_state == "synced"
    assert store.get(task.pk)["version"] == 2


def test_a_finished_task_is_view_only(editor, make_task):
    task = make_task()
    ScheduledTask.objects.filter(pk=task.pk).update(status="done")
    page = editor.get(f"/admin/tasks/scheduledtask/{task.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    response = editor.post(f"/admin/tasks/scheduledtask/{task.pk}/change/", add_form(task.due_at))
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)  # real commits: the push runs when the admin's own transaction ends
def test_a_save_while_dynamodb_is_down_warns_the_editor_and_is_not_an_error(editor, settings):
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    response = editor.post("/admin/tasks/scheduledtask/add/", add_form(timezone.now() + timedelta(days=1)), follow=True)
    assert response.status_code == 200
    assert "not yet sent to the scheduler" in response.content.decode()
    assert ScheduledTask.objects.get().sync_state == "error"


def test_the_list_filters_and_searches(editor, make_task):
    make_task(content_id="film-alpha")
    make_task(content_id="clip-beta", action="withdraw")
    withdrawals = editor.get("/admin/tasks/scheduledtask/?action=withdraw").content.decode()
    assert "clip-beta" in withdrawals and "film-alpha" not in withdrawals
    page = editor.get("/admin/tasks/scheduledtask/?q=alpha").content.decode()
    assert "film-alpha" in page and "clip-beta" not in page


def test_cancel_reaches_dynamodb_and_takes_the_task_out_of_the_due_index(editor, make_task, store):
    task, other = make_task(), make_task()
    response = editor.post("/admin/tasks/scheduledtask/", {
        "action": "cancel_selected", "_selected_action": [str(task.pk)]}, follow=True)
    assert "1 task(s) cancelled." in response.content.decode()
    task.refresh_from_db()
    assert task.status == "cancelled" and task.version == 2
    item = store.get(task.pk)
    assert item["status"] == "cancelled" and "due_shard" not in item
    assert store.get(other.pk)["status"] == "pending"


def test_cancel_of_a_task_the_worker_has_claimed_is_refused_and_shows_it_running(editor, make_task, store):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    store.claim(task.pk, timezone.now(), 300)
    response = editor.post("/admin/tasks/scheduledtask/", {
        "action": "cancel_selected", "_selected_action": [str(task.pk)]}, follow=True)
    assert "1 task(s) not cancelled: already running" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "running" and store.get(task.pk)["status"] == "running"


def test_a_user_without_the_cancel_permission_is_not_offered_cancel(client, django_user_model, make_task):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-for-tests-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_scheduledtask", "change_scheduledtask"]))
    client.force_login(user)
    make_task()
    assert "cancel_selected" not in client.get("/admin/tasks/scheduledtask/").content.decode()


def test_delete_of_a_running_task_is_refused_and_the_item_kept(editor, make_task, store):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    store.claim(task.pk, timezone.now(), 300)
    response = editor.post(f"/admin/tasks/scheduledtask/{task.pk}/delete/", {"post": "yes"}, follow=True)
    assert "was not deleted: the worker is running it now" in response.content.decode()
    assert ScheduledTask.objects.filter(pk=task.pk).exists() and store.get(task.pk)["status"] == "running"


def test_delete_of_a_pending_task_removes_item_and_row(editor, make_task, store, django_capture_on_commit_callbacks):
    task = make_task()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(f"/admin/tasks/scheduledtask/{task.pk}/delete/", {"post": "yes"}, follow=True)
    assert "was deleted successfully" in response.content.decode()
    assert not ScheduledTask.objects.filter(pk=task.pk).exists() and store.get(task.pk) is None
