from datetime import datetime, timezone

import pytest
from django.db import transaction

from tasks.importing import ImportFailed, import_rows, read_tasks_csv
from tasks.models import ScheduledTask

HEADER = "content_id,action,due_at,payload\n"


def test_rows_are_read_with_their_offsets_and_payloads():
    (row,) = read_tasks_csv('\ufeff' + HEADER + 'film-1,publish,2027-03-01T10:00:00+01:00,"{""territory"": ""GB""}"\n')
    assert row.due_at == datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
    assert row.payload == {"territory": "GB"} and row.line == 2 and row.key.startswith("sha256:")


def test_every_bad_row_is_reported_with_its_line_and_column():
    text = HEADER + "\n".join([
        "film-1,publish,2027-03-01T09:00:00Z,",
        ",publish,2027-03-01T09:00:00Z,",
        "film-3,archive,2027-03-01T09:00:00Z,",
        "film-4,publish,2027-03-01 09:00,",
        "film-5,publish,next tuesday,",
        'film-6,publish,2027-03-01T09:00:00Z,"[1, 2]"',
        "film-7,publish,2027-03-01T09:00:00Z,{broken",
    ]) + "\n"
    with pytest.raises(ImportFailed) as failed:
        read_tasks_csv(text)
    assert failed.value.errors == [
        "line 3: content_id: is empty",
        "line 4: action: unknown action 'archive'; valid actions: publish, withdraw",
        "line 5: due_at: '2027-03-01 09:00' has no offset; add one, such as +00:00 or Z",
        "line 6: due_at: 'next tuesday' is not an ISO 8601 time such as 2027-03-01T09:00:00+01:00",
        "line 7: payload: must be a JSON object, not list",
        "line 8: payload: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
    ]


def test_a_missing_column_is_named():
    with pytest.raises(ImportFailed, match="missing column"):
        read_tasks_csv("content_id,when\nfilm-1,2027\n")


def test_a_repeated_row_is_scheduled_once_and_a_conflicting_key_is_an_error(db):
    row = "film-1,publish,2027-03-01T09:00:00Z,\n"
    result = import_rows(read_tasks_csv(HEADER + row + row))
    assert (result.created, result.repeated) == (1, 1)
    keyed = "content_id,action,due_at,key\nfilm-1,publish,2027-03-01T09:00:00Z,k1\nfilm-2,publish,2027-03-01T09:00:00Z,k1\n"
    with pytest.raises(ImportFailed, match="line 3: key: k1 is also on line 2"):
        import_rows(read_tasks_csv(keyed))


def test_a_changed_date_updates_its_task_with_a_new_version(db, store, django_capture_on_commit_callbacks):
    keyed = "content_id,action,due_at,key\nfilm-1,publish,{},lic-1-publish\n"
    with django_capture_on_commit_callbacks(execute=True):
        import_rows(read_tasks_csv(keyed.format("2027-03-01T09:00:00Z")))
    with django_capture_on_commit_callbacks(execute=True):
        result = import_rows(read_tasks_csv(keyed.format("2027-03-02T09:00:00Z")))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    task = ScheduledTask.objects.get(key="lic-1-publish")
    assert task.version == 2
    assert store.get(task.pk)["scheduled_for"] == "2027-03-02T09:00:00Z"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_import_writes_nothing_to_dynamodb(store):
    with pytest.raises(RuntimeError), transaction.atomic():
        import_rows(read_tasks_csv(HEADER + "film-1,publish,2027-03-01T09:00:00Z,\n"))
        raise RuntimeError("the caller's transaction fails later")
    assert not ScheduledTask.objects.exists()
    assert store.query_due(datetime(2028, 1, 1, tzinfo=timezone.utc)).tasks == []


def test_a_dry_run_writes_nothing(db, store):
    result = import_rows(read_tasks_csv(HEADER + "film-1,publish,2027-03-01T09:00:00Z,\n"), dry_run=True)
    assert result.created == 1
    assert not ScheduledTask.objects.exists()
