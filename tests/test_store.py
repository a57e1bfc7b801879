import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tasks.store import Conflict, StoreError, TaskStore, from_dynamo, to_dynamo, to_epoch
from tests.conftest import ttl_on_another_attribute

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)


def definition(**overrides):
    task = {"id": str(uuid.uuid4()), "action": "publish", "content_id": "film-1", "payload": {"score": 0.5},
            "due_at": NOW, "version": 1}
    task.update(overrides)
    return task


def test_ensure_table_builds_a_keys_only_due_index_once(store):
    description = store.client.describe_table(TableName=store.table)["Table"]
    (index,) = description["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "due"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["due_shard", "due_at"]
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert store.ensure_table() == []


def test_ensure_table_makes_a_table_fit_for_production_and_a_second_run_changes_nothing(settings):
    table = TaskStore(table=f"prod-{uuid.uuid4().hex[:8]}")
    changes = table.ensure_table(deletion_protection=True)
    assert changes == [f"created table {table.table} with its 'due' index, on-demand billing, deletion protection on",
                       "turned TTL on for 'expires_at' (finished items expire)", "turned point-in-time recovery on"]
    description = table.client.describe_table(TableName=table.table)["Table"]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert description["DeletionProtectionEnabled"] is True
    backups = table.client.describe_continuous_backups(TableName=table.table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = table.client.describe_time_to_live(TableName=table.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert table.ensure_table(deletion_protection=True) == []
    assert table.ensure_table(deletion_protection=False) == []  # never turned off
    assert table.client.describe_table(TableName=table.table)["Table"]["DeletionProtectionEnabled"] is True


def test_ensure_table_brings_an_older_table_up_to_date(store):
    store.client.update_table(TableName=store.table, BillingMode="PROVISIONED", ProvisionedThroughput={
        "ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    store.client.update_time_to_live(TableName=store.table,
                                     TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires_at"})
    store.client.update_continuous_backups(TableName=store.table,
                                           PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    assert store.ensure_table(deletion_protection=True) == [
        "switched billing to on-demand", "turned deletion protection on",
        "turned TTL on for 'expires_at' (finished items expire)", "turned point-in-time recovery on"]


def test_ensure_table_refuses_a_ttl_on_another_attribute(store):
    ttl_on_another_attribute(store)
    with pytest.raises(StoreError, match="TTL enabled on 'ttl', but the scheduler expires finished items by 'expires_at'"):
        store.ensure_table()


def test_ensure_table_refuses_a_table_without_the_due_index(store):
    store.client.create_table(TableName="plain", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    with pytest.raises(StoreError, match="exists but has no 'due' index"):
        TaskStore(table="plain").ensure_table()


def test_finished_and_cancelled_items_expire_after_the_retention_and_live_ones_never(store, settings):
    done, retried, cancelled, failed = (definition() for _ in range(4))
    for task in (done, retried, cancelled, failed):
        store.push(task)
    store.finish(store.claim(done["id"], NOW, 300), status="done", now=NOW, outcome="ok")
    store.finish(store.claim(retried["id"], NOW, 300), status="pending", now=NOW, error="503",
                 retry_at=NOW + timedelta(minutes=1))
    store.cancel(cancelled["id"], version=2, now=NOW)
    store.finish(store.claim(failed["id"], NOW, 300), status="failed", now=NOW, error="400")
    in_400_days = to_epoch(NOW) + 400 * 86_400
    assert store.get(done["id"])["expires_at"] == in_400_days
    assert store.get(cancelled["id"])["expires_at"] == in_400_days
    assert "expires_at" not in store.get(retried["id"])
    # An editor's retry, or an import bringing a cancelled task back, makes it live again: no expiry.
    store.retry(failed["id"], version=2, now=NOW, more_attempts=8)
    assert "expires_at" not in store.get(failed["id"])
    store.push({**cancelled, "version": 3})
    assert "expires_at" not in store.get(cancelled["id"])


def test_with_retention_0_finished_items_are_kept_for_ever(store, settings):
    settings.SCHEDULER_RETENTION_DAYS = 0
    task = definition()
    store.push(task)
    store.finish(store.claim(task["id"], NOW, 300), status="done", now=NOW, outcome="ok")
    store.cancel(definition()["id"], version=2, now=NOW)  # no such item: nothing to do
    assert "expires_at" not in store.get(task["id"])


def test_push_writes_the_definition_with_due_shard_and_utc_times(store):
    task = definition(due_at=datetime(2027, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))))
    store.push(task)
    item = store.get(task["id"])
    assert item["due_at"] == to_epoch(NOW)
    assert item["scheduled_for"] == "2027-03-01T09:00:00Z"
    assert item["status"] == "pending" and item["attempts"] == 0
    assert item["due_shard"] in {"0", "1", "2", "3"}
    assert item["payload"] == {"score": 0.5}


def test_push_of_the_same_version_again_is_a_no_op_and_an_older_one_is_refused(store):
    task = definition(version=2)
    store.push(task)
    store.push(task)
    with pytest.raises(Conflict, match="version 2"):
        store.push({**task, "version": 1, "content_id": "stale"})
    assert store.get(task["id"])["content_id"] == "film-1"


def test_push_of_the_same_version_with_other_content_is_refused(store):
    task = definition(version=2)
    store.push(task)
    with pytest.raises(Conflict, match="same version 2"):
        store.push({**task, "content_id": "other", "due_at": NOW + timedelta(days=9)})
    assert store.get(task["id"])["content_id"] == "film-1"


def test_push_never_replaces_a_running_task(store):
    task = definition()
    store.push(task)
    assert store.claim(task["id"], NOW, 300)
    with pytest.raises(Conflict, match="already running"):
        store.push({**task, "version": 2, "due_at": NOW + timedelta(days=1)})
    assert store.get(task["id"])["status"] == "running"


def test_query_due_reads_only_due_items_oldest_first(store):
    late, early, future = definition(due_at=NOW), definition(due_at=NOW - timedelta(hours=1)), definition(
        due_at=NOW + timedelta(seconds=1))
    for task in (late, early, future):
        store.push(task)
    due = store.query_due(NOW)
    assert [task_id for _, task_id in due.tasks] == [early["id"], late["id"]]
    assert due.scanned == 2


def test_a_second_claim_of_the_same_task_loses(store):
    task = definition()
    store.push(task)
    first = store.claim(task["id"], NOW, 300)
    assert first["status"] == "running" and first["attempts"] == 1
    assert first["due_at"] == first["lease_until"] == to_epoch(NOW) + 300
    assert store.claim(task["id"], NOW + timedelta(seconds=10), 300) is None


def test_a_future_task_cannot_be_claimed(store):
    task = definition(due_at=NOW + timedelta(seconds=1))
    store.push(task)
    assert store.claim(task["id"], NOW, 300) is None


def test_an_expired_lease_can_be_claimed_again_and_the_old_holder_cannot_finish(store):
    task = definition()
    store.push(task)
    crashed = store.claim(task["id"], NOW, 300)
    second = store.claim(task["id"], NOW + timedelta(seconds=301), 300)
    assert second is not None and second["attempts"] == 2
    assert store.finish(crashed, status="done", now=NOW) is None
    assert store.finish(second, status="done", now=NOW, outcome="ok")["status"] == "done"


def test_finished_items_leave_the_due_index(store):
    done, failed = definition(), definition()
    for task in (done, failed):
        store.push(task)
    store.finish(store.claim(done["id"], NOW, 300), status="done", now=NOW, outcome="ok")
    store.finish(store.claim(failed["id"], NOW, 300), status="failed", now=NOW, error="400")
    assert store.query_due(NOW + timedelta(days=365)).tasks == []
    assert "due_shard" not in store.get(done["id"]) and "lease_until" not in store.get(done["id"])
    assert store.get(failed["id"])["last_error"] == "400"


def test_delete_of_a_running_task_is_refused(store):
    task = definition()
    store.push(task)
    store.claim(task["id"], NOW, 300)
    with pytest.raises(Conflict, match="running"):
        store.delete(task["id"])
    store.delete(str(uuid.uuid4()))  # a missing item is fine


def count_calls(store):
    calls = []
    store.client.meta.events.register("before-parameter-build.dynamodb.*", lambda model, params, **kw: calls.append(
        (model.name, len(_batch(params.get("RequestItems", {}).get(store.table, []))))))
    return calls


def _batch(request):
    return request.get("Keys", []) if isinstance(request, dict) else request


def test_batch_put_new_writes_25_a_request_and_batch_get_reads_100_a_request(store):
    tasks = [definition() for _ in range(230)]
    calls = count_calls(store)
    store.batch_put_new(tasks)
    assert calls == [("BatchWriteItem", 25)] * 9 + [("BatchWriteItem", 5)]
    calls.clear()
    found = store.batch_get([t["id"] for t in tasks] + [str(uuid.uuid4())])
    assert len(found) == 230 and found[tasks[0]["id"]]["due_shard"] in {"0", "1", "2", "3"}
    assert calls == [("BatchGetItem", 100), ("BatchGetItem", 100), ("BatchGetItem", 31)]


def test_conversions_keep_floats_and_give_back_no_decimal():
    value = {"score": 0.1, "n": 3, "nested": [1.5, {"x": 2}]}
    assert to_dynamo(value) == {"score": Decimal("0.1"), "n": 3, "nested": [Decimal("1.5"), {"x": 2}]}
    back = from_dynamo(to_dynamo(value))
    assert back == value and type(back["n"]) is int and type(back["score"]) is float


def test_unreachable_dynamodb_is_a_store_error_that_names_the_endpoint():
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match="unreachable"):
        TaskStore(table="t", endpoint_url=url).get(str(uuid.uuid4()))


def test_a_value_dynamodb_cannot_hold_is_a_store_error_not_a_crash(store):
    with pytest.raises(StoreError, match="DynamoDB cannot hold a value of item .*more than 38 digits"):
        store.push(definition(payload={"n": 10 ** 40 + 1}))
