"""Read task files into validated rows, then create or update their tasks in one transaction."""
import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction

from tasks import sync
from tasks.models import ScheduledTask, registered_actions

MAX_PAYLOAD_BYTES = 64 * 1024
TASK_COLUMNS = ("content_id", "action", "due_at")


class ImportFailed(Exception):
    """The file has errors; `errors` lists them as 'line N: column: message'. Nothing was written."""

    def __init__(self, errors):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Row:
    line: int
    content_id: str
    action: str
    due_at: datetime
    payload: dict
    key: str

    def differs_from(self, task):
        return _fields(task) != _fields(self)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    repeated: int = 0
    pushed: int = 0
    push_errors: int = 0
    notes: list = field(default_factory=list)


def _fields(task_or_row):
    return task_or_row.content_id, task_or_row.action, task_or_row.due_at, task_or_row.payload


def read_tasks_csv(text):
    """Parse a tasks CSV (content_id, action, due_at, optional payload and key) into rows; raise ImportFailed."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    missing = [c for c in TASK_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed([f"line 1: header: missing column(s) {', '.join(missing)}; "
                            f"expected {', '.join(TASK_COLUMNS)} and optionally payload, key"])
    rows, errors = [], []
    for record in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in record.values()):
            continue
        row = _validated(line, {k: (v or "").strip() for k, v in record.items() if k}, errors)
        if row:
            rows.append(row)
    if errors:
        raise ImportFailed(errors)
    return rows


def _validated(line, record, errors):
    found = []
    content_id, action = record["content_id"], record["action"]
    if not content_id:
        found.append(f"line {line}: content_id: is empty")
    if action not in settings.SCHEDULER_ACTIONS:
        found.append(f"line {line}: action: unknown action {action!r}; valid actions: {', '.join(registered_actions())}")
    due_at = _parse_instant(record["due_at"], line, found)
    payload = _parse_payload(record.get("payload", ""), line, found)
    errors.extend(found)
    if found:
        return None
    key = record.get("key") or "sha256:" + hashlib.sha256(
        f"{content_id}\x1f{action}\x1f{due_at.isoformat()}".encode()).hexdigest()[:40]
    return Row(line=line, content_id=content_id, action=action, due_at=due_at, payload=payload, key=key)


def _parse_instant(text, line, found):
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        found.append(f"line {line}: due_at: {text!r} is not an ISO 8601 time such as 2027-03-01T09:00:00+01:00")
        return None
    if moment.tzinfo is None:
        found.append(f"line {line}: due_at: {text!r} has no offset; add one, such as +00:00 or Z")
        return None
    return moment


def _parse_payload(text, line, found):
    if not text:
        return {}
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        found.append(f"line {line}: payload: larger than {MAX_PAYLOAD_BYTES // 1024} KB")
        return None
    try:
        payload = json.loads(text)
    except ValueError as exc:
        found.append(f"line {line}: payload: not valid JSON ({exc})")
        return None
    if not isinstance(payload, dict):
        found.append(f"line {line}: payload: must be a JSON object, not {type(payload).__name__}")
        return None
    return payload


def import_rows(rows, *, dry_run=False, user=None):
    """Create or update the tasks of validated rows by their keys in one transaction, then push them.

    A key seen before updates its task (new version) if anything differs; an unchanged task is left
    alone unless it never reached DynamoDB. Raise ImportFailed, writing nothing, if a changed row's task
    has already started.
    """
    result, by_key, errors = ImportResult(), {}, []
    for row in rows:
        first = by_key.setdefault(row.key, row)
        if first is row:
            continue
        if _fields(first) == _fields(row):
            result.repeated += 1  # the same task twice in one file is scheduled once
        else:
            errors.append(f"line {row.line}: key: {row.key} is also on line {first.line}, with other values")
    with transaction.atomic():
        rows_by_key = ScheduledTask.objects.all() if dry_run else ScheduledTask.objects.select_for_update()
        existing = rows_by_key.in_bulk(list(by_key), field_name="key")  # locked: versions cannot move under us
        created, updated, to_push = [], [], []
        for key, row in by_key.items():
            task = existing.get(key)
            if task is None:
                task = ScheduledTask(key=key, content_id=row.content_id, action=row.action, due_at=row.due_at,
                                     payload=row.payload)
                task.record_change(user)
                created.append(task)
            elif row.differs_from(task):
                if not task.is_editable:
                    errors.append(f"line {row.line}: key: task {key} is already {task.status}; it cannot be changed")
                    continue
                task.content_id, task.action, task.due_at, task.payload = (
                    row.content_id, row.action, row.due_at, row.payload)
                task.record_change(user)
                updated.append(task)
            else:
                result.unchanged += 1
                if task.sync_state != ScheduledTask.SyncState.SYNCED and task.is_editable:
                    to_push.append(task)
        if errors:
            raise ImportFailed(errors)
        result.created, result.updated = len(created), len(updated)
        if dry_run:
            return result
        ScheduledTask.objects.bulk_create(created, batch_size=500)
        ScheduledTask.objects.bulk_update(
            updated, ["content_id", "action", "due_at", "payload", "version", "sync_state", "updated_by"], batch_size=500)

        # bulk_create and bulk_update send no signals, so the sync service is called here, once, in
        # batches, after the commit (a rolled-back import must write nothing to DynamoDB).
        def push():
            result.pushed, result.push_errors = sync.push_tasks([*created, *updated, *to_push])

        transaction.on_commit(push)
    return result
