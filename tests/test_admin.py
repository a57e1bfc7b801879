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
    if due_at <= timezone.now():
        form["run_asap"] = "on"
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
    assert '<span class="timezone" title="the editors\' time zone">Europe/Berlin</span>' in page
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


def test_the_list_shows_the_zone_coloured_status_and_lateness(editor, make_task, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    done = make_task(content_id="film-done", due_at=timezone.now() - timedelta(hours=1))
    ScheduledTask.objects.filter(pk=done.pk).update(status="done", completed_at=done.due_at + timedelta(seconds=75))
    page = editor.get("/admin/tasks/scheduledtask/").content.decode()
    assert "Times are in the editors' time zone, <strong>Europe/Berlin</strong>." in page
    assert 'class="task-status" style="color: #2e7d32; font-weight: bold">Done</span>' in page
    assert "1 min 15 s" in page


def test_a_list_page_takes_as_many_queries_for_200_tasks_as_for_10(editor, make_task):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert editor.get("/admin/tasks/scheduledtask/?all=").status_code == 200
        return len(captured)

    ScheduledTask.objects.bulk_create([ScheduledTask(content_id=f"film-{n}", action="publish",
                                                     due_at=timezone.now() + timedelta(days=n)) for n in range(10)])
    ten = queries()
    ScheduledTask.objects.bulk_create([ScheduledTask(content_id=f"clip-{n}", action="withdraw",
                                                     due_at=timezone.now() + timedelta(hours=n)) for n in range(190)])
    assert queries() == ten


def test_due_filters_pick_overdue_soon_later_and_a_date_range(editor, make_task, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    now = timezone.now()
    for name, offset in [("overdue", -timedelta(hours=1)), ("in-2h", timedelta(hours=2)), ("in-3d", timedelta(days=3)),
                         ("in-20d", timedelta(days=20)), ("in-90d", timedelta(days=90))]:
        make_task(content_id=name, due_at=now + offset)

    def shown(query):
        page = editor.get(f"/admin/tasks/scheduledtask/?{query}").content.decode()
        return {n for n in ("overdue", "in-2h", "in-3d", "in-20d", "in-90d") if f">{n}<" in page}

    assert shown("due=overdue") == {"overdue"}
    assert shown("due=24h") == {"in-2h"}
    assert shown("due=7d") == {"in-2h", "in-3d"}
    assert shown("due=30d") == {"in-2h", "in-3d", "in-20d"}
    assert shown("due=later") == {"in-90d"}
    day = timezone.localtime(now + timedelta(days=3)).date()
    assert shown(f"due_from={day}&due_to={day}") == {"in-3d"}
    assert editor.get("/admin/tasks/scheduledtask/?due_from=someday").status_code == 302  # the admin's bad-filter redirect


def test_a_time_in_a_dst_gap_or_overlap_gets_a_clear_message(editor, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    gap = editor.post("/admin/tasks/scheduledtask/add/", {**add_form(timezone.now() + timedelta(days=1)),
                                                           "due_at_0": "2027-03-28", "due_at_1": "02:30:00"})
    assert "2027-03-28 02:30 in Europe/Berlin does not exist" in gap.content.decode()
    overlap = editor.post("/admin/tasks/scheduledtask/add/", {**add_form(timezone.now() + timedelta(days=1)),
                                                               "due_at_0": "2027-10-31", "due_at_1": "02:30:00"})
    assert "2027-10-31 02:30 in Europe/Berlin happens twice" in overlap.content.decode()
    assert not ScheduledTask.objects.exists()


def test_a_new_task_in_the_past_needs_run_as_soon_as_possible(editor):
    form = add_form(timezone.now() - timedelta(hours=2))
    del form["run_asap"]
    page = editor.post("/admin/tasks/scheduledtask/add/", form).content.decode()
    assert "has already passed. Tick “Run as soon as possible”" in page
    assert not ScheduledTask.objects.exists()
    assert editor.post("/admin/tasks/scheduledtask/add/", {**form, "run_asap": "on"}).status_code == 302


def test_a_licences_publish_and_withdraw_show_each_other_and_keep_their_order(editor, make_task, settings):
    settings.TIME_ZONE = "UTC"
    publish = make_task(key="licence:L1:publish", due_at=timezone.now() + timedelta(days=10))
    withdraw = make_task(key="licence:L1:withdraw", action="withdraw", due_at=timezone.now() + timedelta(days=40))
    page = editor.get(f"/admin/tasks/scheduledtask/{publish.pk}/change/").content.decode()
    assert f"withdrawn on {timezone.localtime(withdraw.due_at):%Y-%m-%d %H:%M} UTC" in page
    page = editor.get(f"/admin/tasks/scheduledtask/{withdraw.pk}/change/").content.decode()
    assert f"published on {timezone.localtime(publish.due_at):%Y-%m-%d %H:%M} UTC" in page
    early = add_form(publish.due_at - timedelta(days=1), action="withdraw", key="licence:L1:withdraw",
                     content_id=withdraw.content_id)
    page = editor.post(f"/admin/tasks/scheduledtask/{withdraw.pk}/change/", early).content.decode()
    assert "The withdraw must come after the licence&#x27;s publish" in page


def failed_task(make_task, store):
    task = make_task(due_at=timezone.now() - timedelta(seconds=5))
    claimed = store.claim(task.pk, timezone.now(), 300)
    store.finish(claimed, status="failed", now=timezone.now(), error="410 Gone")
    ScheduledTask.objects.filter(pk=task.pk).update(status="failed", attempts=1, last_error="410 Gone")
    return task


def test_retry_failed_makes_it_due_now_with_its_attempts_kept(editor, make_task, store):
    task, pending = failed_task(make_task, store), make_task()
    response = editor.post("/admin/tasks/scheduledtask/", {
        "action": "retry_selected", "_selected_action": [str(task.pk), str(pending.pk)]}, follow=True)
    page = response.content.decode()
    assert "1 task(s) retried." in page and "1 task(s) not retried: only failed tasks are retried" in page
    item = store.get(task.pk)
    assert item["status"] == "pending" and item["attempts"] == 1 and "due_shard" in item
    assert str(task.pk) in [i for _, i in store.query_due(timezone.now() + timedelta(seconds=1)).tasks]
    task.refresh_from_db()
    assert (task.status, task.attempts, task.version) == ("pending", 1, 2)


def test_run_now_moves_a_pending_task_to_now(editor, make_task, store):
    task = make_task(due_at=timezone.now() + timedelta(days=5))
    response = editor.post("/admin/tasks/scheduledtask/", {
        "action": "run_selected_now", "_selected_action": [str(task.pk)]}, follow=True)
    assert "1 task(s) moved." in response.content.decode()
    assert str(task.pk) in [i for _, i in store.query_due(timezone.now() + timedelta(seconds=1)).tasks]
    assert store.get(task.pk)["version"] == 2


def test_resync_pushes_a_lost_item_and_pulls_a_finished_ones_state(editor, make_task, store):
    lost, done = make_task(), make_task(due_at=timezone.now() - timedelta(seconds=5))
    store.delete(lost.pk)
    store.finish(store.claim(done.pk, timezone.now(), 300), status="done", now=timezone.now(), outcome="200")
    response = editor.post("/admin/tasks/scheduledtask/", {
        "action": "resync_selected", "_selected_action": [str(lost.pk), str(done.pk)]}, follow=True)
    assert "1 task(s) pushed, 1 updated from DynamoDB." in response.content.decode()
    assert store.get(lost.pk)["status"] == "pending"
    assert ScheduledTask.objects.get(pk=done.pk).status == "done"


def test_a_view_only_user_sees_no_add_change_or_action_controls(client, django_user_model, make_task):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("reader", password="pw-for-tests-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_scheduledtask"))
    client.force_login(user)
    task = make_task()
    listing = client.get("/admin/tasks/scheduledtask/").content.decode()
    assert 'name="action"' not in listing and "/add/" not in listing.split('id="content-main"')[1]
    form = client.get(f"/admin/tasks/scheduledtask/{task.pk}/change/").content.decode()
    assert 'name="_save"' not in form and 'name="run_asap"' not in form
    assert client.post(f"/admin/tasks/scheduledtask/{task.pk}/change/", add_form(task.due_at)).status_code == 403
    assert client.post("/admin/tasks/scheduledtask/", {"action": "cancel_selected",
                                                       "_selected_action": [str(task.pk)]}).status_code == 200
    assert ScheduledTask.objects.get(pk=task.pk).status == "pending"


def test_the_upcoming_page_groups_the_next_30_days_by_local_day(editor, make_task, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    tomorrow = timezone.localtime(timezone.now() + timedelta(days=1)).replace(hour=0, minute=30)
    make_task(content_id="film-a", due_at=tomorrow)
    make_task(content_id="film-b", action="withdraw", due_at=tomorrow + timedelta(hours=23))
    make_task(content_id="film-c", due_at=timezone.now() + timedelta(days=45))
    page = editor.get("/admin/tasks/scheduledtask/upcoming/").content.decode()
    section = page.split(f'data-day="{tomorrow:%Y-%m-%d}"')[1].split("</section>")[0]
    assert "1 publish, 1 withdraw" in section and "film-a" in section and "film-b" in section
    assert "film-c" not in page


def test_the_health_banner_shows_the_last_tick_and_links_to_problems(editor, make_task, store):
    from django.core.cache import cache

    cache.clear()
    assert "the worker has never ticked" in editor.get("/admin/").content.decode()
    store.put_heartbeat(now=timezone.now() - timedelta(minutes=7), summary={})
    cache.clear()
    assert "no tick for more than 5 minutes" in editor.get("/admin/").content.decode()
    store.put_heartbeat(now=timezone.now(), summary={})
    cache.clear()
    failed_task(make_task, store)
    page = editor.get("/admin/").content.decode()
    assert "Last tick:" in page and "no tick for more than" not in page
    assert '<a href="/admin/tasks/scheduledtask/?status__exact=failed">1 failed task</a>' in page
    assert '<a href="/admin/tasks/scheduledtask/?sync_state__exact=error">0 sync errors</a>' in page


def test_the_history_records_the_old_and_new_due_times(editor, make_task, settings, django_capture_on_commit_callbacks):
    from django.contrib.admin.models import LogEntry

    settings.TIME_ZONE = "Europe/Berlin"
    task = make_task(due_at=timezone.make_aware(timezone.datetime(2027, 7, 1, 9, 0)))
    with django_capture_on_commit_callbacks(execute=True):
        editor.post(f"/admin/tasks/scheduledtask/{task.pk}/change/", {
            **add_form(task.due_at, content_id=task.content_id), "due_at_1": "10:30:00"})
    entry = LogEntry.objects.get(object_id=str(task.pk))
    assert entry.get_change_message() == "Changed due at (2027-07-01 09:00 CEST → 2027-07-01 10:30 CEST)."
