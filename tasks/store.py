"""The DynamoDB gateway: the table's schema, item <-> Python mapping, and every call to DynamoDB."""
import functools
import logging
import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, DecimalException
from urllib.parse import urlsplit

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

logger = logging.getLogger(__name__)

DUE_INDEX = "due"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
HEARTBEAT_ID = "heartbeat:tick"  # not a task: it never carries due_shard, so no tick ever reads it as one
BATCH_WRITE_SIZE = 25  # DynamoDB's limit for BatchWriteItem (moto accepts more; AWS does not)
BATCH_GET_SIZE = 100  # DynamoDB's limit for BatchGetItem
BATCH_WRITERS = 8  # BatchWriteItem requests in flight at once (the client's pool holds at least 10 connections)
PENDING, RUNNING = "pending", "running"
EXPIRES_AT = "expires_at"  # the table's TTL attribute: only finished items carry it


class StoreError(Exception):
    """DynamoDB could not be reached or refused the call; the message says why."""


class Conflict(StoreError):
    """A conditional write was refused; `item` is the item as DynamoDB holds it (None if absent)."""

    def __init__(self, message, item=None):
        super().__init__(message)
        self.item = item


# --- The one pair of conversion helpers -----------------------------------------------------------
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def to_dynamo(value):
    """Return `value` with every float as a Decimal (boto3 refuses floats), ready to serialise."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value):
    """Return `value` with every Decimal as an int or a float, so JSON bodies never see Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [from_dynamo(v) for v in value]
    return value


def to_item(attrs):
    try:
        return {k: _serializer.serialize(to_dynamo(v)) for k, v in attrs.items()}
    except (DecimalException, TypeError) as exc:  # a number beyond DynamoDB's 38 digits, say: the checks let it by
        raise StoreError(f"DynamoDB cannot hold a value of item {attrs.get('id', '?')}: {type(exc).__name__} "
                         "(a number with more than 38 digits, or out of range)") from exc


def from_item(item):
    return {k: from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def to_epoch(moment):
    """Return a due time as whole epoch seconds, rounded up so that nothing ever runs early."""
    return math.ceil(moment.timestamp())


def now_epoch(moment):
    """Return the present as whole epoch seconds, rounded down (the other half of never early)."""
    return math.floor(moment.timestamp())


def from_epoch(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def to_iso(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def expiry(now):
    """Return when a task finished at `now` may leave DynamoDB (epoch seconds), or None to keep it for ever."""
    days = settings.SCHEDULER_RETENTION_DAYS
    return to_epoch(now) + days * 86_400 if days > 0 else None


def shard_for(task_id, shards):
    """Return the due index partition ("0".."shards-1") of a task, stable for its id."""
    return str(uuid.UUID(str(task_id)).int % shards)


def _translated(method):
    """Turn botocore's exceptions into StoreError with a message an operator can act on."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise StoreError(f"DynamoDB refused {method.__name__}: {error.get('Code')}: {error.get('Message')}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable ({self.endpoint_url or 'AWS'}): {exc}") from exc

    return wrapper


def _refused(exc):
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass
class DueTasks:
    """What a due query found: (due_at, id) pairs oldest first, and the items DynamoDB read for it."""

    tasks: list
    scanned: int
    pages: int


class TaskStore:
    """The scheduler's DynamoDB table. The client is made on first use, so an endpoint can be set first."""

    def __init__(self, *, table, endpoint_url=None, region="eu-west-1", shards=4):
        self.table, self.endpoint_url, self.region, self.shards = table, endpoint_url, region, shards
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                session = boto3.session.Session()
                local = {}
                if self.endpoint_url and urlsplit(self.endpoint_url).hostname in LOCAL_HOSTS and not session.get_credentials():
                    # A local DynamoDB (the embedded one, DynamoDB Local) takes any key, but botocore signs with one.
                    local = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
                self._client = session.client(
                    "dynamodb",
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    **local,
                    config=Config(
                        connect_timeout=3, read_timeout=10,
                        retries={"mode": "standard", "max_attempts": 3},
                        max_pool_connections=max(10, settings.SCHEDULER_CONCURRENCY + 4),
                        # DynamoDB validates every request itself; botocore's second check of each item
                        # cost a quarter of an import's time (bench/import_tasks.py).
                        parameter_validation=False,
                    ),
                )
            return self._client

    # --- Schema ---------------------------------------------------------------------------------
    @_translated
    def ensure_table(self, *, deletion_protection=False, expire_finished=True):
        """Create the table, or bring an existing one up to what the scheduler needs; return what changed.

        The table: keyed by id, with the sparse due index, on-demand billing and point-in-time recovery;
        TTL on `expires_at` (which finished items carry) when `expire_finished`; deletion protection when
        asked, never turned off here. Return a list of sentences, empty when nothing had to change.
        """
        changes, description = [], self._describe()
        if description is None:
            self._create(deletion_protection)
            changes.append(f"created table {self.table} with its '{DUE_INDEX}' index, on-demand billing"
                           + (", deletion protection on" if deletion_protection else ""))
        else:
            indexes = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
            if DUE_INDEX not in indexes:
                raise StoreError(f"Table {self.table} exists but has no '{DUE_INDEX}' index; it is not a scheduler table.")
            update = {}
            if description.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST":
                update["BillingMode"] = "PAY_PER_REQUEST"
                changes.append("switched billing to on-demand")
            if deletion_protection and not description.get("DeletionProtectionEnabled"):
                update["DeletionProtectionEnabled"] = True
                changes.append("turned deletion protection on")
            if update:  # one call: a table accepts no second update while the first is in progress
                self.client.update_table(TableName=self.table, **update)
                self._wait()
        if expire_finished:
            changes += self._ensure_ttl()
        return changes + self._ensure_recovery()  # last: a new table may refuse it for a few minutes

    def _describe(self):
        try:
            return self.client.describe_table(TableName=self.table)["Table"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        return None

    def _wait(self):
        self.client.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})

    def _create(self, deletion_protection):
        self.client.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            DeletionProtectionEnabled=deletion_protection,
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "due_shard", "AttributeType": "S"},
                {"AttributeName": "due_at", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": DUE_INDEX,
                "KeySchema": [
                    {"AttributeName": "due_shard", "KeyType": "HASH"},
                    {"AttributeName": "due_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
        )
        self._wait()

    def _ensure_recovery(self):
        backups = self.client.describe_continuous_backups(TableName=self.table)["ContinuousBackupsDescription"]
        if backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED":
            return []
        try:
            self.client.update_continuous_backups(
                TableName=self.table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ContinuousBackupsUnavailableException":
                raise
            # A table just created may not take it for a few minutes; the table itself is usable.
            raise StoreError(f"Table {self.table} is ready, but point-in-time recovery could not be turned on yet "
                             f"({exc.response['Error'].get('Message')}); run ensure_table again in a few minutes.") from exc
        return ["turned point-in-time recovery on"]

    def _ensure_ttl(self):
        ttl = self.client.describe_time_to_live(TableName=self.table)["TimeToLiveDescription"]
        status, attribute = ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")
        if status in ("ENABLED", "ENABLING") and attribute == EXPIRES_AT:
            return []
        if status == "DISABLING" and attribute == EXPIRES_AT:
            raise StoreError(f"TTL on '{EXPIRES_AT}' of table {self.table} is being turned off (it takes up to an hour); "
                             "run ensure_table again once it is off.")
        if status != "DISABLED":
            raise StoreError(f"Table {self.table} has TTL {status.lower()} on '{attribute}', but the scheduler expires "
                             f"finished items by '{EXPIRES_AT}'; turn that TTL off (it takes up to an hour), then run "
                             "ensure_table again.")
        self.client.update_time_to_live(
            TableName=self.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_AT})
        return [f"turned TTL on for '{EXPIRES_AT}' (finished items expire)"]

    # --- Editors' side: definitions -------------------------------------------------------------
    def _new_item(self, task):
        return {
            "id": str(task["id"]), "action": task["action"], "content_id": task["content_id"],
            "payload": task["payload"] or {}, "due_at": to_epoch(task["due_at"]),
            "scheduled_for": to_iso(task["due_at"]), "version": task["version"],
            "due_shard": shard_for(task["id"], self.shards), "status": PENDING, "attempts": 0,
        }

    @_translated
    def push(self, task):
        """Write a pending task's definition; only a newer version may replace, and never a started task.

        `task` holds id, action, content_id, payload, due_at (aware datetime) and version. Execution
        attributes (attempts, lease, outcome, errors) are never written here. Raise Conflict if refused.
        """
        definition = self._new_item(task)
        key, attempts = definition.pop("id"), definition.pop("attempts")
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"id": key}),
                UpdateExpression="SET " + ", ".join(f"#{a} = :{a}" for a in definition)
                + ", #attempts = if_not_exists(#attempts, :attempts) REMOVE #completed_at, #expires_at",
                # A newer version may also bring back a cancelled task (never run): an import reviving a licence.
                ConditionExpression="attribute_not_exists(#id) OR (#version < :version AND #status IN (:status, :cancelled))",
                ExpressionAttributeNames={f"#{a}": a for a in [*definition, "id", "attempts", "completed_at", EXPIRES_AT]},
                ExpressionAttributeValues=to_item({**{f":{a}": v for a, v in definition.items()}, ":attempts": attempts,
                                                   ":cancelled": "cancelled"}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _refused(exc):
                raise
            item = from_item(exc.response["Item"]) if "Item" in exc.response else None
            if item and item.get("status") == PENDING and all(item.get(a) == v for a, v in definition.items()
                                                               if a != "due_at"):
                return  # this very version, with this very content, is already there: a no-op
            raise Conflict(_conflict_message(item, task["version"]), item) from exc

    @_translated
    def delete(self, task_id):
        """Delete a task's item unless it is running (then raise Conflict); a missing item is fine."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=to_item({"id": str(task_id)}),
                ConditionExpression="attribute_not_exists(#id) OR #status <> :running",
                ExpressionAttributeNames={"#id": "id", "#status": "status"},
                ExpressionAttributeValues=to_item({":running": RUNNING}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _refused(exc):
                raise
            raise Conflict("The task is running now; it cannot be deleted until it finishes.",
                           from_item(exc.response.get("Item", {})) or None) from exc

    @_translated
    def get(self, task_id):
        """Return a task's item as Python values (strongly consistent), or None."""
        response = self.client.get_item(TableName=self.table, Key=to_item({"id": str(task_id)}), ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    @_translated
    def batch_put_new(self, tasks):
        """Write items for tasks DynamoDB does not hold, 25 a request (BatchWriteItem's limit), several requests at a time.

        A batch write cannot carry a condition: callers use it only for tasks that batch_get found
        missing and that are not due soon, and check afterwards that no newer version was overwritten.
        """
        batches = [[{"PutRequest": {"Item": to_item(self._new_item(t))}} for t in tasks[start:start + BATCH_WRITE_SIZE]]
                   for start in range(0, len(tasks), BATCH_WRITE_SIZE)]

        def write(requests):
            self._drain(lambda pending: self.client.batch_write_item(RequestItems={self.table: pending}),
                        requests, "UnprocessedItems")

        if len(batches) == 1:
            write(batches[0])
        else:
            # Requests overlap: a batch spends most of its time waiting for DynamoDB's answer.
            with ThreadPoolExecutor(max_workers=BATCH_WRITERS) as pool:
                list(pool.map(write, batches))
        return len(tasks)

    @_translated
    def batch_get(self, task_ids):
        """Return {id: item} for the ids that exist, reading 100 keys a request."""
        found, task_ids = {}, [str(t) for t in task_ids]
        for start in range(0, len(task_ids), BATCH_GET_SIZE):
            keys = {"Keys": [to_item({"id": t}) for t in task_ids[start:start + BATCH_GET_SIZE]], "ConsistentRead": True}

            def get(pending):
                response = self.client.batch_get_item(RequestItems={self.table: pending})
                for raw in response.get("Responses", {}).get(self.table, []):
                    item = from_item(raw)
                    found[item["id"]] = item
                return response

            self._drain(get, keys, "UnprocessedKeys")
        return found

    def _drain(self, call, request, unprocessed_key, attempts=8):
        for attempt in range(attempts):
            left = call(request).get(unprocessed_key, {}).get(self.table)
            if not left:
                return
            request = left
            time.sleep(min(0.05 * 2 ** attempt, 2))
        raw = request["Keys"] if isinstance(request, dict) else [r["PutRequest"]["Item"] for r in request]
        ids = [from_item(r).get("id", "?") for r in raw]
        raise StoreError(f"DynamoDB left {len(ids)} item(s) of a batch unprocessed after {attempts} tries (throttled?): "
                         f"{', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}")

    # --- Worker's side: execution ---------------------------------------------------------------
    @_translated
    def query_due(self, now=None):
        """Return the ids due at `now` from the sparse due index, oldest first, every shard, every page.

        With `now` None, return every live task (the whole index), for reconcile.
        """
        found, scanned, pages = [], 0, 0
        for shard in range(self.shards):
            condition, values = "#shard = :shard", {":shard": str(shard)}
            if now is not None:
                condition, values[":now"] = condition + " AND #due_at <= :now", now_epoch(now)
            request = {
                "TableName": self.table, "IndexName": DUE_INDEX, "KeyConditionExpression": condition,
                "ExpressionAttributeNames": {"#shard": "due_shard", **({"#due_at": "due_at"} if now else {})},
                "ExpressionAttributeValues": to_item(values),
            }
            while True:
                response = self.client.query(**request)
                pages += 1
                scanned += response.get("ScannedCount", 0)
                found.extend((from_item(i)["due_at"], from_item(i)["id"]) for i in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        found.sort()
        return DueTasks(tasks=found, scanned=scanned, pages=pages)

    @_translated
    def all_items(self):
        """Yield (id, status, version) of every task item, page by page (reconcile --full only)."""
        request = {"TableName": self.table, "ProjectionExpression": "#id, #status, #version",
                   "ExpressionAttributeNames": {"#id": "id", "#status": "status", "#version": "version"}}
        while True:
            response = self.client.scan(**request)
            for raw in response.get("Items", []):
                item = from_item(raw)
                if item["id"] != HEARTBEAT_ID:
                    yield item["id"], item.get("status"), item.get("version")
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @_translated
    def cancel(self, task_id, *, version, now, reason="cancelled"):
        """Cancel a pending task: it leaves the due index for good. Return False if DynamoDB has no such item.

        Raise Conflict if the worker got there first (running or finished).
        """
        sets = {"status": "cancelled", "version": version, "completed_at": to_iso(now), "outcome": reason}
        if expires := expiry(now):
            sets[EXPIRES_AT] = expires
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"id": str(task_id)}),
                UpdateExpression="SET " + ", ".join(f"#{a} = :{a}" for a in sets) + " REMOVE #due_shard",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={f"#{a}": a for a in [*sets, "due_shard"]},
                ExpressionAttributeValues=to_item({**{f":{a}": v for a, v in sets.items()}, ":pending": PENDING}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _refused(exc):
                raise
            if "Item" not in exc.response:
                return False
            item = from_item(exc.response["Item"])
            if item.get("status") == "cancelled":
                return True
            raise Conflict(f"The task is already {item.get('status')}; it can no longer be cancelled.", item) from exc
        return True

    @_translated
    def retry(self, task_id, *, version, now, more_attempts):
        """Make a failed task due now again with `more_attempts` beyond those it has made (which are kept).

        Raise Conflict unless the task is failed.
        """
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"id": str(task_id)}),
                UpdateExpression="SET #status = :pending, #version = :version, #due_at = :due, #due_shard = :shard, "
                                 "#attempt_limit = #attempts + :more REMOVE #completed_at, #lease_until, #expires_at",
                ConditionExpression="#status = :failed",
                ExpressionAttributeNames={f"#{a}": a for a in ("status", "version", "due_at", "due_shard", "attempts",
                                                               "attempt_limit", "completed_at", "lease_until", EXPIRES_AT)},
                ExpressionAttributeValues=to_item({":pending": PENDING, ":version": version, ":due": now_epoch(now),
                                                   ":more": more_attempts,
                                                   ":shard": shard_for(task_id, self.shards), ":failed": "failed"}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _refused(exc):
                raise
            item = from_item(exc.response["Item"]) if "Item" in exc.response else None
            raise Conflict(f"The task is {item.get('status') if item else 'not in DynamoDB'}, not failed; "
                           "it was not retried.", item) from exc

    @_translated
    def claim(self, task_id, now, lease_seconds):
        """Take a due task for `lease_seconds` with one conditional update; return the item, or None if lost.

        The index is only a hint: the condition on the base item decides. The lease end becomes the new
        due time, so a run that dies becomes due again by itself.
        """
        lease_until = now_epoch(now) + lease_seconds
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=to_item({"id": str(task_id)}),
                UpdateExpression=(
                    "SET #status = :running, #lease_until = :lease_until, #due_at = :lease_until, "
                    "#lease_token = :token, #attempts = if_not_exists(#attempts, :zero) + :one"
                ),
                ConditionExpression=(
                    "attribute_exists(#due_shard) AND ((#status = :pending AND #due_at <= :now) "
                    "OR (#status = :running AND #lease_until <= :now))"
                ),
                ExpressionAttributeNames={f"#{a}": a for a in (
                    "status", "lease_until", "due_at", "lease_token", "attempts", "due_shard")},
                ExpressionAttributeValues=to_item({
                    ":running": RUNNING, ":pending": PENDING, ":lease_until": lease_until, ":now": now_epoch(now),
                    ":token": uuid.uuid4().hex, ":zero": 0, ":one": 1,
                }),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _refused(exc):
                return None
            raise
        return from_item(response["Attributes"])

    @_translated
    def finish(self, claimed, *, status, now, outcome="", error="", retry_at=None):
        """Record how a claimed run ended (done, failed, or pending again at `retry_at`); return the item.

        Return None when the lease was lost to another worker meanwhile: its record then stands.
        """
        sets = {"status": status, "outcome": outcome, "last_error": error}
        removes = ["lease_until", "lease_token"]
        if status == PENDING:
            sets["due_at"] = to_epoch(retry_at)
        else:
            sets["completed_at"] = to_iso(now)
            if expires := expiry(now):
                sets[EXPIRES_AT] = expires  # the table's TTL removes the item once it has been kept long enough
            removes.append("due_shard")  # finished items leave the sparse due index
        names = {f"#{a}": a for a in [*sets, *removes]}
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=to_item({"id": claimed["id"]}),
                UpdateExpression="SET " + ", ".join(f"#{a} = :{a}" for a in sets)
                + " REMOVE " + ", ".join(f"#{a}" for a in removes),
                ConditionExpression="#status = :running AND #lease_token = :token",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(
                    {**{f":{a}": v for a, v in sets.items()}, ":running": RUNNING, ":token": claimed["lease_token"]}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _refused(exc):
                logger.warning("Task %s: lease lost before its outcome was recorded", claimed["id"])
                return None
            raise
        return from_item(response["Attributes"])

    @_translated
    def put_heartbeat(self, *, now, summary):
        """Record that a tick ran, when, and what it did (the one write an idle tick makes)."""
        self.client.put_item(TableName=self.table, Item=to_item({
            "id": HEARTBEAT_ID, "kind": "heartbeat", "at": to_iso(now), "at_epoch": to_epoch(now), "summary": summary,
        }))

    def get_heartbeat(self):
        """Return the last tick's heartbeat ({"at", "summary", ...}), or None if no tick has run."""
        return self.get(HEARTBEAT_ID)


def _conflict_message(item, version):
    if item is None:
        return "DynamoDB refused the write."
    if item.get("status") != PENDING:
        return f"The task is already {item.get('status')} in DynamoDB; the change was not applied."
    if item.get("version") == version:
        return f"DynamoDB holds other content under the same version {version}; save the task again."
    return f"DynamoDB holds version {item.get('version')}, newer than {version}; the change was not applied."


_stores, _stores_lock = {}, threading.Lock()


def get_store():
    """Return the TaskStore for the current settings (one per table, endpoint, region and shard count)."""
    key = (settings.SCHEDULER_TABLE, settings.SCHEDULER_DYNAMODB_ENDPOINT_URL,
           settings.SCHEDULER_AWS_REGION, settings.SCHEDULER_SHARDS)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = TaskStore(table=key[0], endpoint_url=key[1], region=key[2], shards=key[3])
        return _stores[key]
