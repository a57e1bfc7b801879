"""Services for programs that schedule (the JSON API): create by key, change by version, cancel, set a licence window.

They validate with the import's own rules (tasks/rows.py), so the admin, the import and the API give the
same answers, and they reach DynamoDB through the sync service, after the commit.
"""
from dataclasses import dataclass, field
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, transaction

from tasks import importing, sync
from tasks import rows as row_rules
from tasks.models import ScheduledTask
from tasks.readers import Source
from tasks.times import has_offset, zone_named

FIELDS = ("content_id", "action", "due_at", "payload", "key")
CHANGEABLE = ("due_at", "action", "payload")
COMPARED = ("content_id", "action", "due_at", "payload")
RESERVED_KEYS = (row_rules.ID_KEY, "licence:")  # exports name task ids so; licence windows own licence: keys
JSON_TYPES = {dict: "an object", list: "an array", str: "text", int: "a number", float: "a number", bool: "true or false",
              type(None): "null"}


class Invalid(Exception):
    """The request breaks a rule; `errors` maps a field (or "<index>.<field>" in a list) to its messages."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{f}: {m}" for f, ms in errors.items() for m in ms))
        self.errors = errors


class Refused(Exception):
    """The request is valid but the task's state refuses it; `task` is the task as it now stands.

    `kind`: "missing" (no such task), "state" (not pending, or the worker got there first), "stale" (another
    version than the caller's), "unavailable" (DynamoDB could not be reached; nothing changed).
    """

    def __init__(self, message, task=None, kind="state"):
        super().__init__(message)
        self.task, self.kind = task, kind


@dataclass
class Created:
    """The outcome of a create: the tasks in request order, and which of them are new."""

    tasks: list
    new: list = field(default_factory=list)


def json_type(value):
    return JSON_TYPES.get(type(value), type(value).__name__)


def validate_task(record, *, label=""):
    """Return the import's Row for one task object, or raise Invalid naming each field.

    Times must carry an offset (or Z): a program's time without one is ambiguous. The Row's key is None
    unless the record names one.
    """
    if not isinstance(record, dict):
        raise Invalid({f"{label}non_field_errors": [f"must be a JSON object (a task), not {json_type(record)}"]})
    errors = row_rules.Errors(shown=1000)
    for name in sorted(set(record) - set(FIELDS)):
        errors.add(1, name, f"unknown field; a task has {', '.join(FIELDS)}")
    due = record.get("due_at")
    if isinstance(due, str) and due.strip() and not has_offset(due):
        errors.add(1, "due_at", f"{due.strip()!r} has no offset; give one, such as 2027-03-01T09:00:00+01:00 or Z")
    if "payload" in record and not isinstance(record["payload"], dict):
        errors.add(1, "payload", f"must be a JSON object, not {json_type(record['payload'])}")
    key = record.get("key")
    if isinstance(key, str) and key.strip().startswith(RESERVED_KEYS):
        errors.add(1, "key", f"keys starting with {' or '.join(map(repr, RESERVED_KEYS))} are reserved (for exported "
                             "task ids and for licence windows: use PUT /api/v1/licences/ for those)")
    rows = row_rules.task_rows(1, record, row_rules.Reading(zone=dt_timezone.utc), errors) if not errors.count else []
    if errors.count:
        raise Invalid(_by_field(errors.details, label))
    row = rows[0]
    if not (isinstance(key, str) and key.strip()):
        row.key = None  # no key: every create is a new task (the import's digest key is for files)
    return row


def create_tasks(records, *, user=None, idempotency_key=None):
    """Create tasks from task objects, all or none; a task whose key exists already is returned as it is.

    A key (the record's, else `idempotency_key`, suffixed "#<index>" in a list) makes a create
    idempotent: the same fields again return the existing task, other fields raise Refused naming them.
    Without a key every create makes a new task. The new tasks are pushed to DynamoDB after the commit.
    """
    single = isinstance(records, dict)
    errors, parsed = {}, []
    for index, record in enumerate([records] if single else records):
        label = "" if single else f"{index}."
        if idempotency_key and isinstance(record, dict):
            derived = idempotency_key if single else f"{idempotency_key}#{index}"
            if record.get("key") not in (None, derived) and single:
                errors["Idempotency-Key"] = ["differs from the body's key; give one of them"]
                continue
            record = {**record, "key": record.get("key") or derived}
        try:
            parsed.append((label, validate_task(record, label=label)))
        except Invalid as exc:
            errors.update(exc.errors)
    seen = {}
    for label, row in parsed:
        if row.key in seen:
            errors[f"{label}key"] = [f"{row.key!r} is also the key of item {seen[row.key].rstrip('.') or 0}"]
        elif row.key:
            seen[row.key] = label
    if errors:
        raise Invalid(errors)
    for attempt in range(2):  # a create racing another with the same key loses at the unique index: look again
        try:
            return _create(parsed, user)
        except IntegrityError:
            if attempt:
                raise


def _create(parsed, user):
    with transaction.atomic():
        existing = ScheduledTask.objects.select_for_update().in_bulk(
            [row.key for _label, row in parsed if row.key], field_name="key")
        result, conflicts = Created(tasks=[]), []
        for label, row in parsed:
            task = existing.get(row.key) if row.key else None
            if task is not None:
                differs = [f for f in COMPARED if getattr(task, f) != getattr(row, f)]
                if differs:
                    conflicts.append(f"{label}key: {row.key!r} names an existing task ({task.pk}) with other "
                                     f"{', '.join(differs)}")
                result.tasks.append(task)
                continue
            task = ScheduledTask(key=row.key, content_id=row.content_id, action=row.action, due_at=row.due_at,
                                 payload=row.payload)
            task.record_change(user)
            result.tasks.append(task)
            result.new.append(task)
        if conflicts:
            raise Refused("; ".join(conflicts))
        ScheduledTask.objects.bulk_create(result.new)  # signals do not fire for bulk_create: push explicitly
        new_ids = [t.pk for t in result.new]
        transaction.on_commit(lambda: sync.push_tasks(ScheduledTask.objects.filter(pk__in=new_ids), new=True),
                              robust=True)
    fresh = ScheduledTask.objects.in_bulk([t.pk for t in result.tasks])  # with the sync state after the push
    result.tasks = [fresh[t.pk] for t in result.tasks]
    result.new = [fresh[t.pk] for t in result.new]
    return result


def change_task(task_id, changes, *, version, user=None):
    """Change a pending task's due time, action or payload if its version is still `version`; return the task.

    `version` None skips the check (the caller said "any version"). Raise Invalid for a field that cannot
    change or a bad value, Refused if the task is not pending, has another version, or the worker claimed
    it before the change reached DynamoDB. The save hook pushes it after the commit.
    """
    unknown = sorted(set(changes) - set(FIELDS))
    fixed = sorted(set(changes) & set(FIELDS) - set(CHANGEABLE))
    errors = {name: [f"unknown field; a change names {', '.join(CHANGEABLE)} (and version)"] for name in unknown}
    errors.update({name: [f"cannot be changed (only {', '.join(CHANGEABLE)}); cancel the task and create another"]
                   for name in fixed})
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        task = ScheduledTask.objects.select_for_update().filter(pk=task_id).first()
        if task is None:
            raise Refused("No such task.", kind="missing")
        if not task.is_editable:
            raise Refused(f"The task is {task.status}; only a pending task can be changed.", task)
        if version is not None and version != task.version:
            raise Refused(f"The task has version {task.version}, not {version}: it changed since you read it. "
                          "Read it again, then repeat your change.", task, kind="stale")
        record = {"content_id": task.content_id, "action": task.action, "due_at": task.due_at.isoformat(),
                  "payload": task.payload, **changes}
        row = validate_task(record)
        task.action, task.due_at, task.payload = row.action, row.due_at, row.payload
        task.record_change(user, task.version)
        task.save()
    task.refresh_from_db()
    if task.sync_state == ScheduledTask.SyncState.ERROR and not task.is_editable:
        # The push was refused: the worker claimed (or finished) the task first, with the version before.
        raise Refused(f"The worker started the task before the change reached it; it is {task.status}, and the "
                      "change will not run.", task)
    return task


def cancel_task(task_id, *, user=None):
    """Cancel a pending task in DynamoDB and on its row; return the task. Cancelling a cancelled task is a no-op.

    Raise Refused if the worker has started or finished it, or if DynamoDB could not be reached.
    """
    task = ScheduledTask.objects.filter(pk=task_id).first()
    if task is None:
        raise Refused("No such task.", kind="missing")
    if task.status == ScheduledTask.Status.CANCELLED:
        return task
    counts = sync.cancel_tasks([task], user=user)
    task.refresh_from_db()
    if counts["errors"]:
        raise Refused("DynamoDB could not be reached; the task was not cancelled. Try again.", task, kind="unavailable")
    if counts["refused"]:
        raise Refused(f"The task is {task.status}; only a pending task can be cancelled.", task)
    return task


def check_licence_id(licence_id):
    """Raise Invalid unless `licence_id` is text a key can hold (the import's rule for ids)."""
    if (problem := row_rules.identifier_problem(licence_id)) is not None:
        raise Invalid({"licence_id": [problem]})


def window_cancels(licence_id, window):
    """Tell whether setting `window` would cancel its licence's pending withdraw (the licence no longer ends)."""
    _publish, withdraw = licence_tasks(licence_id)
    return window.get("withdraw_at") is None and withdraw is not None and withdraw.is_editable


def set_licence(licence_id, window, *, user=None):
    """Make a licence window's two tasks match `window` (create, move, or cancel its withdraw); return the result.

    `window` has content_id, publish_at, optional withdraw_at (None or absent: the licence never ends),
    timezone (for times without an offset; default TIME_ZONE) and payload. This is one row of a licence
    windows import, and follows the import's rules. Raise Invalid naming each field.
    """
    check_licence_id(licence_id)
    payload, withdraw_at = window.get("payload") or {}, window.get("withdraw_at")
    if not isinstance(payload, dict):
        raise Invalid({"payload": [f"must be a JSON object, not {json_type(payload)}"]})
    if "" in payload:
        raise Invalid({"payload": ["a payload's names must not be empty"]})
    clashes = sorted(set(payload) & {*row_rules.WINDOW_COLUMNS, *row_rules.WINDOW_OPTIONAL})
    if clashes:
        raise Invalid({"payload": [f"{', '.join(clashes)} belong(s) to the window itself, not its payload"]})
    if withdraw_at is not None and not (isinstance(withdraw_at, str) and withdraw_at.strip()):
        raise Invalid({"withdraw_at": ["must be a time, or null for a licence that never ends"]})
    record = {**payload, "licence_id": licence_id, "content_id": window.get("content_id"),
              "publish_at": window.get("publish_at"), "withdraw_at": withdraw_at or "",
              "timezone": window.get("timezone") or ""}
    for attempt in range(2):  # two first PUTs of one licence at once: the second finds the first's tasks
        source = Source(format="windows", columns=tuple(record), records=iter([(1, record)]))
        try:
            return importing.import_source(source, reading=row_rules.Reading(zone=zone_named(settings.TIME_ZONE)),
                                           user=user)
        except importing.ImportFailed as exc:
            raise Invalid(_by_field(exc.details, "")) from None
        except IntegrityError:
            if attempt:
                raise


def licence_tasks(licence_id):
    """Return (publish, withdraw) of a licence window, each a task or None."""
    check_licence_id(licence_id)
    found = ScheduledTask.objects.in_bulk([f"licence:{licence_id}:publish", f"licence:{licence_id}:withdraw"],
                                          field_name="key")
    return found.get(f"licence:{licence_id}:publish"), found.get(f"licence:{licence_id}:withdraw")


def _by_field(details, label):
    errors = {}
    for _line, column, message in details:
        errors.setdefault(f"{label}{column or 'non_field_errors'}", []).append(str(message))
    return errors
