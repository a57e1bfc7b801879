"""The JSON API (tasks/api): each endpoint and filter, auth, idempotency, the 409s, bulk creates, licences."""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone as dj_timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.models import ScheduledTask

LATER = (dj_timezone.now() + timedelta(days=30)).replace(microsecond=0)
TASKS = "/api/v1/tasks/"


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.fixture
def client_for(db, django_user_model):
    """Return an API client authenticated by the token of a service account with the named permissions."""

    def make(*codenames):
        user = django_user_model.objects.create_user(f"svc-{uuid.uuid4().hex[:6]}")
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="tasks", codename__in=codenames))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return client

    return make


@pytest.fixture
def api(client_for):
    return client_for("view_scheduledtask", "add_scheduledtask", "change_scheduledtask", "cancel_task")


def post(client, body, **headers):
    # json.dumps escapes what is not ASCII, so that even a lone surrogate travels, as from a real client.
    return client.post(TASKS, json.dumps(body), content_type="application/json", **headers)


def task_body(**overrides):
    return {"content_id": "film-1", "action": "publish", "due_at": iso(LATER), "payload": {"territory": "GB"}, **overrides}


# --- Auth and permissions ---------------------------------------------------------------------------
def test_anonymous_requests_get_401_and_a_token_without_the_permission_403(db, client_for):
    anonymous = APIClient().get(TASKS)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"
    viewer = client_for("view_scheduledtask")
    assert viewer.get(TASKS).status_code == 200
    assert post(viewer, task_body()).status_code == 403
    assert client_for().get(TASKS).status_code == 403


def test_a_delete_needs_the_cancel_permission_not_the_delete_one(client_for, make_task):
    task = make_task()
    deleter = client_for("view_scheduledtask", "delete_scheduledtask")
    assert deleter.delete(f"{TASKS}{task.pk}/").status_code == 403


# --- Create -----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_create_answers_201_with_the_task_and_pushes_it(api, store):
    response = post(api, task_body(key="cms-1"))
    assert response.status_code == 201
    task = response.json()
    assert task["due_at"] == iso(LATER) and task["status"] == "pending" and task["sync_state"] == "synced"
    assert store.get(task["id"])["scheduled_for"] == iso(LATER)


@pytest.mark.django_db(transaction=True)
def test_the_same_key_twice_gives_one_task_and_200_and_other_fields_409(api, store):
    first = post(api, task_body(key="cms-1")).json()
    again = post(api, task_body(key="cms-1"))
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert ScheduledTask.objects.count() == 1
    moved = post(api, task_body(key="cms-1", due_at=iso(LATER + timedelta(hours=1)), action="withdraw"))
    assert moved.status_code == 409
    assert "names an existing task" in moved.json()["detail"] and "action, due_at" in moved.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_an_idempotency_key_header_makes_a_keyless_create_idempotent(api, store):
    first = post(api, task_body(), HTTP_IDEMPOTENCY_KEY="req-7")
    second = post(api, task_body(), HTTP_IDEMPOTENCY_KEY="req-7")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and first.json()["key"] == "req-7"
    assert post(api, task_body()).json()["id"] != first.json()["id"]  # no key: a new task each time


@pytest.mark.django_db(transaction=True)
def test_a_bulk_create_of_500_is_one_batch_path_and_every_item_reaches_dynamodb(api, store):
    calls = []
    store.client.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.append(model.name))
    body = [task_body(content_id=f"film-{n}", key=f"bulk-{n}") for n in range(500)]
    response = post(api, body)
    assert response.status_code == 201 and len(response.json()) == 500
    assert ScheduledTask.objects.filter(sync_state="synced").count() == 500
    assert len(store.batch_get([t["id"] for t in response.json()])) == 500
    assert calls.count("BatchWriteItem") == 20 and "PutItem" not in calls and calls.count("UpdateItem") == 0
    assert post(api, body).status_code == 200 and ScheduledTask.objects.count() == 500


def test_a_list_over_500_or_empty_is_refused(api):
    assert post(api, [task_body()] * 501).status_code == 400
    assert post(api, []).status_code == 400


def test_a_list_with_one_bad_item_creates_nothing_and_names_the_item(api):
    response = post(api, [task_body(key="a"), task_body(key="b", action="explode")])
    assert response.status_code == 400
    assert response.json()["errors"]["1.action"] == ["unknown action 'explode'; valid actions: publish, withdraw"]
    assert ScheduledTask.objects.count() == 0


@pytest.mark.parametrize("field, value, message", [
    ("action", "explode", "unknown action 'explode'; valid actions: publish, withdraw"),
    ("due_at", "2027-03-01T09:00:00", "'2027-03-01T09:00:00' has no offset; give one, such as 2027-03-01T09:00:00+01:00 or Z"),
    ("due_at", "tomorrow", "'tomorrow' is not an ISO 8601 time such as 2027-03-01T09:00:00+01:00 or 2027-03-01 09:00"),
    ("payload", {"blob": "x" * 70_000}, "larger than 64 KB"),
    ("payload", ["not", "an", "object"], "must be a JSON object, not an array"),
    ("payload", "{}", "must be a JSON object, not text"),
    ("payload", {"n": 123456789012345678901234567890123456789012345},
     "has a number of more than 38 digits, which DynamoDB does not store: 123456789012345678901234567890123456789012345"),
    ("payload", {"n": 1e-200}, "has a number out of DynamoDB's range (1e-130 to 1e126 in size): 1e-200"),
    ("payload", {"a": nested(40)},
     "is nested deeper than 31 levels, which DynamoDB does not store"),
    ("due_at", "9999-12-31T23:59:59-14:00", "'9999-12-31T23:59:59-14:00' is out of range: give a time from 1970 to 9998"),
    ("due_at", "0001-01-01T00:00:00+14:00", "'0001-01-01T00:00:00+14:00' is out of range: give a time from 1970 to 9998"),
    ("payload", {"bad": "nul\x00byte"}, "contains a NUL character (\\u0000), which databases do not store"),
    ("content_id", "", "is empty"),
    ("content_id", "bad\ud800half", "contains an unpaired surrogate (half of a UTF-16 character), which is not valid Unicode"),
    ("key", "id:whatever", "keys starting with 'id:' or 'licence:' are reserved (for exported task ids and for "
                           "licence windows: use PUT /api/v1/licences/ for those)"),
    ("key", "licence:L1:publish", "keys starting with 'id:' or 'licence:' are reserved (for exported task ids and "
                                  "for licence windows: use PUT /api/v1/licences/ for those)"),
    ("key", "k\x00", "contains a NUL character (\\u0000), which databases do not store"),
    ("status", "done", "unknown field; a task has content_id, action, due_at, payload, key"),
])
def test_bad_input_is_a_400_naming_the_field_with_the_imports_message(api, field, value, message):
    response = post(api, task_body(**{field: value}))
    assert response.status_code == 400
    assert response.json()["errors"][field] == [message]


def test_a_body_that_is_not_json_or_not_an_object_is_a_400(api):
    assert api.post(TASKS, "{not json", content_type="application/json").status_code == 400
    assert post(api, "a string").json()["detail"] == "The body must be a JSON object, not text."
    deep = api.post(TASKS, "[" * 50_000 + "]" * 50_000, content_type="application/json")
    assert deep.status_code == 400 and deep.json()["detail"] == "JSON parse error - nested too deeply."


def test_keys_are_cleaned_checked_and_unique_within_a_request(api):
    assert post(api, task_body(key="  k1 ")).json()["key"] == "k1"
    clash = post(api, [task_body(key="a"), task_body(key="b"), task_body(key="a")])
    assert clash.status_code == 400 and clash.json()["errors"] == {"2.key": ["'a' is also the key of item 0"]}
    header = post(api, task_body(), HTTP_IDEMPOTENCY_KEY="licence:L1:publish")
    assert header.status_code == 400 and "are reserved" in header.json()["errors"]["key"][0]
    both = post(api, task_body(key="mine"), HTTP_IDEMPOTENCY_KEY="other")
    assert both.status_code == 400 and both.json()["errors"] == {"Idempotency-Key": ["differs from the body's key; give one of them"]}


# --- List and filters -------------------------------------------------------------------------------
def test_list_filters_by_status_action_content_key_and_due_range(api, make_task):
    soon = make_task(content_id="film-a", action="publish", due_at=LATER - timedelta(days=20), key="k-a")
    make_task(content_id="film-b", action="withdraw", due_at=LATER)
    ScheduledTask.objects.filter(pk=soon.pk).update(status="done")
    ids = lambda query: [t["content_id"] for t in api.get(TASKS + query).json()["results"]]  # noqa: E731
    assert ids("") == ["film-a", "film-b"]
    assert ids("?status=done") == ["film-a"]
    assert ids("?action=withdraw") == ["film-b"]
    assert ids("?content_id=film-b") == ["film-b"]
    assert ids("?key=k-a") == ["film-a"]
    assert ids(f"?due_after={iso(LATER - timedelta(days=1))}") == ["film-b"]
    assert ids(f"?due_before={iso(LATER - timedelta(days=1))}") == ["film-a"]
    assert api.get(TASKS + "?due_after=yesterday").status_code == 400
    assert api.get(TASKS + "?status=sleeping").status_code == 400
    # An offset PostgreSQL refuses (beyond 15:59) is read as the instant it names: found by schemathesis on PostgreSQL.
    assert ids("?due_before=2027-01-01T00:00:00-22:25") == ids(f"?due_before={iso(datetime(2027, 1, 1, 22, 25, tzinfo=timezone.utc))}")
    far = api.get(TASKS + "?due_after=9999-12-31T23:59:59-14:00")
    assert far.status_code == 400 and far.json()["errors"] == {"due_after": ["out of range: give a time from 1970 to 9998"]}


def test_list_orders_upcoming_first_or_newest_change_first_and_pages(api, make_task):
    early, late = make_task(due_at=LATER - timedelta(days=1)), make_task(due_at=LATER)
    ScheduledTask.objects.filter(pk=early.pk).update(updated_at=dj_timezone.now() + timedelta(minutes=5))
    assert [t["id"] for t in api.get(TASKS).json()["results"]] == [str(early.pk), str(late.pk)]
    assert [t["id"] for t in api.get(TASKS + "?ordering=-updated_at").json()["results"]] == [str(early.pk), str(late.pk)]
    assert [t["id"] for t in api.get(TASKS + "?ordering=-due_at").json()["results"]] == [str(late.pk), str(early.pk)]
    page = api.get(TASKS + "?page_size=1&page=2").json()
    assert page["count"] == 2 and [t["id"] for t in page["results"]] == [str(late.pk)]
    assert api.get(TASKS + "?page=9").status_code == 404


# --- One task: read, change, cancel -----------------------------------------------------------------
def test_get_returns_the_task_with_its_version_as_etag(api, make_task):
    task = make_task()
    response = api.get(f"{TASKS}{task.pk}/")
    assert response.status_code == 200 and response["ETag"] == '"1"' and response.json()["version"] == 1
    assert api.get(f"{TASKS}{uuid.uuid4()}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_patch_with_the_version_moves_the_task_and_its_one_item(api, store, make_task):
    task = make_task()
    moved = LATER + timedelta(days=2)
    response = api.patch(f"{TASKS}{task.pk}/", {"due_at": iso(moved), "version": 1}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 2 and response["ETag"] == '"2"'
    item = store.get(task.pk)
    assert item["version"] == 2 and item["scheduled_for"] == iso(moved)
    by_header = api.patch(f"{TASKS}{task.pk}/", {"payload": {"territory": "FR"}}, format="json", HTTP_IF_MATCH='"2"')
    assert by_header.status_code == 200 and store.get(task.pk)["payload"] == {"territory": "FR"}


def test_patch_without_a_version_is_428_and_with_an_old_one_409_or_412(api, make_task):
    task = make_task()
    url = f"{TASKS}{task.pk}/"
    assert api.patch(url, {"action": "withdraw"}, format="json").status_code == 428
    api.patch(url, {"action": "withdraw", "version": 1}, format="json")
    stale = api.patch(url, {"action": "publish", "version": 1}, format="json")
    assert stale.status_code == 409 and "has version 2, not 1" in stale.json()["detail"]
    assert stale.json()["task"]["action"] == "withdraw"
    assert api.patch(url, {"action": "publish"}, format="json", HTTP_IF_MATCH='"1"').status_code == 412
    assert api.patch(url, {"action": "publish"}, format="json", HTTP_IF_MATCH="three").status_code == 400
    anyway = api.patch(url, {"action": "publish"}, format="json", HTTP_IF_MATCH="*")  # any version, on purpose
    assert anyway.status_code == 200 and anyway.json()["version"] == 3


@pytest.mark.django_db(transaction=True)
def test_a_patch_that_the_worker_beats_to_dynamodb_is_a_409_saying_so(api, store, make_task):
    task = make_task(due_at=dj_timezone.now() - timedelta(seconds=1))
    store.claim(task.pk, dj_timezone.now(), 300)  # the worker has it; the row does not know yet
    response = api.patch(f"{TASKS}{task.pk}/", {"payload": {"territory": "FR"}, "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("The worker started the task before the change reached it")
    assert response.json()["task"]["status"] == "running" and store.get(task.pk)["version"] == 1


def test_patch_of_a_field_that_cannot_change_or_of_a_finished_task_is_refused(api, make_task):
    task = make_task()
    url = f"{TASKS}{task.pk}/"
    fixed = api.patch(url, {"content_id": "other", "colour": "red", "version": 1}, format="json")
    assert fixed.status_code == 400 and "cannot be changed" in fixed.json()["errors"]["content_id"][0]
    assert fixed.json()["errors"]["colour"] == ["unknown field; a change names due_at, action, payload (and version)"]
    bad = api.patch(url, {"due_at": "2027-03-28T02:30:00", "version": 1}, format="json")
    assert bad.status_code == 400 and "has no offset" in bad.json()["errors"]["due_at"][0]
    ScheduledTask.objects.filter(pk=task.pk).update(status="done")
    done = api.patch(url, {"action": "withdraw", "version": 1}, format="json")
    assert done.status_code == 409 and done.json()["detail"] == "The task is done; only a pending task can be changed."


def test_delete_cancels_a_pending_task_in_dynamodb_and_refuses_a_running_one(api, store, make_task):
    task, running = make_task(), make_task(due_at=dj_timezone.now() - timedelta(seconds=1))
    response = api.delete(f"{TASKS}{task.pk}/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert store.get(task.pk)["status"] == "cancelled" and "due_shard" not in store.get(task.pk)
    assert api.delete(f"{TASKS}{task.pk}/").status_code == 200  # already cancelled: nothing to do
    store.claim(running.pk, dj_timezone.now(), 300)
    refused = api.delete(f"{TASKS}{running.pk}/")
    assert refused.status_code == 409 and refused.json()["detail"] == "The task is running; only a pending task can be cancelled."
    assert ScheduledTask.objects.get(pk=running.pk).status == "running"


# --- Licences ---------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_licence_put_creates_moves_and_cancels_its_two_tasks(api, store):
    url = "/api/v1/licences/LIC-9/"
    window = {"content_id": "film-9", "publish_at": "2027-07-01 09:00", "withdraw_at": "2027-12-31 23:00",
              "timezone": "Europe/Berlin", "payload": {"territory": "DE"}}
    created = api.put(url, window, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["publish"]["due_at"] == "2027-07-01T07:00:00Z" and body["withdraw"]["due_at"] == "2027-12-31T22:00:00Z"
    assert body["publish"]["payload"] == {"licence_id": "LIC-9", "territory": "DE"}
    assert api.put(url, window, format="json").json()["changes"]["unchanged"] == 2
    moved = api.put(url, {**window, "withdraw_at": "2028-01-31 23:00"}, format="json").json()
    assert moved["changes"]["updated"] == 1 and moved["withdraw"]["due_at"] == "2028-01-31T22:00:00Z"
    assert store.get(moved["withdraw"]["id"])["scheduled_for"] == "2028-01-31T22:00:00Z"
    endless = api.put(url, {**window, "withdraw_at": None}, format="json").json()
    assert endless["changes"]["cancelled"] == 1 and endless["withdraw"]["status"] == "cancelled"
    assert store.get(endless["withdraw"]["id"])["status"] == "cancelled"
    assert api.get(url).json()["publish"]["id"] == body["publish"]["id"]
    assert api.get("/api/v1/licences/nothing/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_licence_put_that_would_cancel_needs_the_cancel_permission(client_for, store):
    url, window = "/api/v1/licences/LIC-5/", {"content_id": "film-5", "publish_at": "2027-07-01T09:00:00Z",
                                              "withdraw_at": "2027-09-01T09:00:00Z"}
    editor = client_for("view_scheduledtask", "add_scheduledtask", "change_scheduledtask")
    assert editor.put(url, window, format="json").status_code == 201
    refused = editor.put(url, {**window, "withdraw_at": None}, format="json")
    assert refused.status_code == 403 and "needs the cancel permission" in refused.json()["detail"]
    assert ScheduledTask.objects.get(key="licence:LIC-5:withdraw").status == "pending"
    assert editor.put(url, {**window, "withdraw_at": False}, format="json").status_code == 400


@pytest.mark.parametrize("window, field, message", [
    ({"publish_at": "2027-03-28 02:30", "timezone": "Europe/Berlin"}, "publish_at",
     "2027-03-28 02:30 in Europe/Berlin does not exist (the clocks skip it for daylight saving time); "
     "give another time or an offset"),
    ({"withdraw_at": "2027-06-01T00:00:00Z"}, "withdraw_at", "2027-06-01T00:00:00Z is not after publish_at 2027-07-01T09:00:00Z"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/London"),
    ({"payload": {"publish_at": "x"}}, "payload", "publish_at belong(s) to the window itself, not its payload"),
    ({"colour": "red"}, "colour", "unknown field; a licence window has content_id, publish_at, withdraw_at, timezone, payload"),
    ({"withdraw_at": 0}, "withdraw_at", "must be a time, or null for a licence that never ends"),
])
def test_a_bad_licence_window_is_a_400_naming_the_field(api, window, field, message):
    body = {"content_id": "film-9", "publish_at": "2027-07-01T09:00:00Z", **window}
    response = api.put("/api/v1/licences/LIC-1/", body, format="json")
    assert response.status_code == 400 and response.json()["errors"][field] == [message]
    assert ScheduledTask.objects.count() == 0


# --- Schema and docs ---------------------------------------------------------------------------------
def test_the_schema_and_its_docs_page_are_served(db, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/tasks/", "/api/v1/tasks/{id}/", "/api/v1/licences/{licence_id}/"} <= set(paths)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content


@pytest.mark.parametrize("licence_id, message", [
    ("a%00b", "contains a NUL character (\\u0000), which databases do not store"),
    ("a%0Ab", "contains a line break or control character"),
])
def test_a_licence_id_a_key_cannot_hold_is_a_400(api, licence_id, message):
    body = {"content_id": "film-9", "publish_at": "2027-07-01T09:00:00Z"}
    for response in (api.put(f"/api/v1/licences/{licence_id}/", body, format="json"),
                     api.get(f"/api/v1/licences/{licence_id}/")):
        assert response.status_code == 400 and response.json()["errors"] == {"licence_id": [message]}


def test_django_s_own_refusals_under_api_are_json_too(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = post(api, task_body(payload={"blob": "x" * 2000}))
    assert big.status_code == 400 and big["Content-Type"] == "application/json"
    assert "exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE" in big.json()["detail"]
    missing = api.get("/api/v1/nothing-here/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
