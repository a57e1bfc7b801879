import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tasks.models import ScheduledTask
from worker.engine import run_tick
from tests.conftest import SAMPLE_DATA, ttl_on_another_attribute


def test_ensure_table_says_what_it_changed(store, settings):
    out = StringIO()
    call_command("ensure_table", stdout=out)
    assert out.getvalue().strip() == f"Table {store.table}: already as required, nothing changed."
    settings.SCHEDULER_TABLE, settings.SCHEDULER_DELETION_PROTECTION = "another-table", True
    out = StringIO()
    call_command("ensure_table", stdout=out)
    assert out.getvalue().strip() == (
        "Table another-table: created table another-table with its 'due' index, on-demand billing, deletion "
        "protection on; turned TTL on for 'expires_at' (finished items expire); turned point-in-time recovery on.")


def test_ensure_table_fails_with_the_reason(store):
    ttl_on_another_attribute(store)
    with pytest.raises(CommandError, match="TTL enabled on 'ttl'"):
        call_command("ensure_table", stdout=StringIO())


@pytest.mark.django_db(transaction=True)  # the push runs after the import's own commit, as in real use
def test_import_of_the_sample_tasks_creates_108_tasks_and_items_and_performs_none(store):
    out = StringIO()
    call_command("import_tasks", str(SAMPLE_DATA / "tasks.csv"), stdout=out)
    assert "108 created, 0 updated, 0 unchanged; 108 pushed to DynamoDB." in out.getvalue()
    ids = list(ScheduledTask.objects.values_list("pk", flat=True))
    assert len(ids) == 108
    items = store.batch_get(ids)
    assert len(items) == 108 and {i["status"] for i in items.values()} == {"pending"}
    assert ScheduledTask.objects.filter(sync_state="synced").count() == 108
    first_due = min(ScheduledTask.objects.values_list("due_at", flat=True))
    assert run_tick(now=first_due - timedelta(seconds=1))["claimed"] == 0  # the sample's dates are all ahead
    out = StringIO()
    call_command("import_tasks", str(SAMPLE_DATA / "tasks.csv"), stdout=out)
    assert "0 created, 0 updated, 108 unchanged" in out.getvalue()


def test_import_with_a_bad_row_writes_nothing_and_names_the_line(db, store, tmp_path):
    lines = (SAMPLE_DATA / "tasks.csv").read_text().splitlines()
    lines[40] = lines[40].replace("publish", "publsh").replace("withdraw", "publsh")
    bad = tmp_path / "tasks.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError) as failed:
        call_command("import_tasks", str(bad), stdout=StringIO())
    message = str(failed.value)
    assert "1 error(s); nothing was imported." in message
    assert "line 41: action: unknown action 'publsh'; valid actions: publish, withdraw" in message
    assert not ScheduledTask.objects.exists()


def test_import_of_a_missing_file_or_other_encoding_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_tasks", str(tmp_path / "nope.csv"))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("content_id,action,due_at\nfilm-é,publish,2027-03-01T09:00:00Z\n".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_tasks", str(latin))


def test_run_worker_once_performs_what_is_due(make_task):
    task = make_task(due_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("run_worker", "--once", stdout=out)
    assert json.loads(out.getvalue())["done"] == 1
    task.refresh_from_db()
    assert task.status == "done"


def test_create_api_token_makes_a_service_account_whose_token_works_with_its_permissions_only(db):
    from rest_framework.test import APIClient

    out, err = StringIO(), StringIO()
    call_command("create_api_token", "cms", "--permissions", "view,add", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert "service account cms (permissions: view, add)" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/tasks/").status_code == 200
    assert client.delete("/api/v1/tasks/00000000-0000-0000-0000-000000000000/").status_code == 403
    again = StringIO()
    call_command("create_api_token", "cms", "--permissions", "view", stdout=again, stderr=StringIO())
    assert again.getvalue().strip() == token  # the same account, the same token, fewer permissions
    rotated = StringIO()
    call_command("create_api_token", "cms", "--rotate", stdout=rotated, stderr=StringIO())
    assert rotated.getvalue().strip() != token
    assert client.get("/api/v1/tasks/").status_code == 401


def test_create_api_token_refuses_an_unknown_permission(db):
    with pytest.raises(CommandError, match="unknown permission.s. delete; choose from view, add, change, cancel, run"):
        call_command("create_api_token", "cms", "--permissions", "view,delete", stdout=StringIO(), stderr=StringIO())


def test_create_api_token_never_turns_a_persons_account_into_a_service_account(db, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "a-real-password-1")
    with pytest.raises(CommandError, match="admin is a person's account"):
        call_command("create_api_token", "admin", stdout=StringIO(), stderr=StringIO())
    assert django_user_model.objects.get(username="admin").is_superuser
