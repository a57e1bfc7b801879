"""Services for programs that schedule (the JSON API): create by key, change by version, cancel, set a licence window.

They validate with the import's own rules (tasks/rows.py), so the admin, the import and the API give the
same answers, and they reach DynamoDB through the sync service, after the commit.
"""
from dataclasses import dataclass, field
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tasks import importing, sync
from tasks import rows as row_rules
from tasks.models import ScheduledTask
from tasks.readers import Source
from tasks.times import has_offset, zone_named

FIELDS = ("content_id", "action", "due_at", "payload", "key")
CHANGEABLE = ("due_at", "action", "payload")
COMPARED = ("content_id", "action", "due_at", "payload")


class Invalid(Exception):
    """The request breaks a rule; `errors` maps a field (or "<index>.<field>" in a list) to its messages."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{f}: {m}" for f, ms in errors.items() for m in ms))
        self.errors = errors


class Refused(Exception):
    """The request is valid but conflicts with the task's state; `task` is the task as it now stands."""

    def __init__(self, message, task=None, status=409, kind="state"):
        super().__init__(message)
        self.task, self.status, self.kind = task, status, kind


@dataclass
class Created:
    """The outcome of a create: the tasks in request order, and which of them are new."""

    tasks: list
    new: list = field(default_factory=list)


def validate_task(record, *, label=""):
    """Return the import's Row for one task object, or raise Invalid naming each field.

    Times must carry an offset (or Z): a program's time without one is ambiguous.
    """
    if not isinstance(record, dict):
        raise Invalid({f"{label}non_field_errors": [f"must be a JSON object (a task), not {type(record).__name__}"]})
    errors = row_rules.Errors(shown=1000)
    for name in sorted(set(record) - set(FIELDS)):
        errors.add(1, name, f"unknown field; a task has {', '.join(FIELDS)}")
    due = record.get("due_at")
    if isinstance(due, str) and due.strip() and not has_offset(due):
        errors.add(1, "due_at", f"{due.strip()!r} has no offset; give one, such as 2027-03-01T09:00:00+01:00 or Z")
    key = record.get("key")
    if isinstance(key, str) and key.startswith(row_rules.ID_KEY):
        errors.add(1, "key", f"keys starting with {row_rules.ID_KEY!r} are reserved (exports name task ids so)")
    rows = row_rules.task_rows(1, record, row_rules.Reading(zone=dt_timezone.utc), errors) if not errors.count else []
    if errors.count:
        raise Invalid(_by_field(errors.details, label))
    return rows[0]


def create_tasks(records, *, user=None, idempotency_key=None):
    """Create tasks from task objects, all or none; a task whose key exists already is returned as it is.

    A key (the record's, else `idempotency_key`, suffixed by the position in a list) makes a create
    idempotent: the same fields again return the existing task, other fields raise Refused naming them.
    Without a key every create makes a new task. The new tasks are pushed to DynamoDB after the commit.
    """
    single = isinstance(records, dict)
    records = [records] if single else records
    errors, parsed = {}, []
    for index, record in enumerate(records):
        label = "" if single else f"{index}."
        try:
            row = validate_task(record, label=label)
        except Invalid as exc:
            errors.update(exc.errors)
            continue
        given = record.get("key") or (idempotency_key and (idempotency_key if single else f"{idempotency_key}#{index}"))
        if given and len(given) > row_rules.MAX_KEY_LENGTH:
            errors[f"{label}key"] = [f"longer than {row_rules.MAX_KEY_LENGTH} characters"]
        row.key = given or None
        parsed.append((label, row))
    keys = [row.key for _label, row in parsed if row.key]
    if len(keys) != len(set(keys)):
        errors["key"] = ["the same key is given to more than one task in this request"]
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
        result, conflicts = Created(tasks=[]), {}
        for label, row in parsed:
            task = existing.get(row.key) if row.key else None
            if task is not None:
                differs = [f for f in COMPARED if getattr(task, f) != getattr(row, f)]
                if differs:
                    conflicts[f"{label}key"] = [f"{row.key!r} names an existing task ({task.pk}) with other "
                                                f"{', '.join(differs)}"]
                result.tasks.append(task)
                continue
            task = ScheduledTask(key=row.key, content_id=row.content_id, action=row.action, due_at=row.due_at,
                                 payload=row.payload)
            task.record_change(user)
            result.tasks.append(task)
            result.new.append(task)
        if conflicts:
            raise Refused("; ".join(f"{k}: {m[0]}" for k, m in conflicts.items()))
        ScheduledTask.objects.bulk_create(result.new)  # signals do not fire for bulk_create: push explicitly
        new_ids = [t.pk for t in result.new]
        transaction.on_commit(lambda: sync.push_tasks(ScheduledTask.objects.filter(pk__in=new_ids), new=True),
                              robust=True)
    return result


def change_task(task_id, changes, *, version, user=None):
    """Change a pending task's due time, action or payload if its version is still `version`; return the task.

    Raise Invalid for a field that cannot change or a bad value, Refused if the task is not pending (409)
    or has another version (409, the caller's copy is stale). The save hook pushes it after the commit.
    """
    fixed = sorted(set(changes) - set(CHANGEABLE))
    if fixed:
        raise Invalid({name: [f"cannot be changed (only {', '.join(CHANGEABLE)}); cancel the task and create "
                              "another"] for name in fixed})
    with transaction.atomic():
        task = ScheduledTask.objects.select_for_update().filter(pk=task_id).first()
        if task is None:
            raise Refused("No such task.", status=404)
        if not task.is_editable:
            raise Refused(f"The task is {task.status}; only a pending task can be changed.", task)
        if version != task.version:
            raise Refused(f"The task has version {task.version}, not {version}: it changed since you read it. "
                          "Read it again, then repeat your change.", task, kind="stale")
        record = {"content_id": task.content_id, "action": task.action, "due_at": task.due_at.isoformat(),
                  "payload": task.payload, **changes}
        row = validate_task(record)
        task.action, task.due_at, task.payload = row.action, row.due_at, row.payload
        task.record_change(user, task.version)
        task.save()
    task.refresh_from_db()
    return task


def cancel_task(task_id, *, user=None):
    """Cancel a pending task in DynamoDB and on its row; return the task. Cancelling a cancelled task is a no-op.

    Raise Refused if the worker has started or finished it (409, with its status), or if DynamoDB could
    not be reached (503: nothing changed).
    """
    task = ScheduledTask.objects.filter(pk=task_id).first()
    if task is None:
        raise Refused("No such task.", status=404)
    if task.status == ScheduledTask.Status.CANCELLED:
        return task
    counts = sync.cancel_tasks([task], user=user)
    task.refresh_from_db()
    if counts["errors"]:
        raise Refused("DynamoDB could not be reached; the task was not cancelled. Try again.", task, status=503)
    if counts["refused"]:
        raise Refused(f"The task is {task.status}; only a pending task can be cancelled.", task)
    return task


def set_licence(licence_id, window, *, user=None):
    """Make a licence window's two tasks match `window` (create, move, or cancel its withdraw); return the result.

    `window` has content_id, publish_at, optional withdraw_at (None: the licence never ends), timezone
    (for times without an offset; default TIME_ZONE) and payload. This is one row of a licence windows
    import, and follows the import's rules. Raise Invalid naming each field.
    """
    payload = window.get("payload") or {}
    if not isinstance(payload, dict):
        raise Invalid({"payload": [f"must be a JSON object, not {type(payload).__name__}"]})
    if "" in payload:
        raise Invalid({"payload": ["a payload's names must not be empty"]})
    clashes = sorted(set(payload) & {*row_rules.WINDOW_COLUMNS, *row_rules.WINDOW_OPTIONAL})
    if clashes:
        raise Invalid({"payload": [f"{', '.join(clashes)} belong(s) to the window itself, not its payload"]})
    record = {**payload, "licence_id": licence_id, "content_id": window.get("content_id"),
              "publish_at": window.get("publish_at"), "withdraw_at": window.get("withdraw_at") or "",
              "timezone": window.get("timezone") or ""}
    source = Source(format="windows", columns=tuple(record), records=iter([(1, record)]))
    try:
        result = importing.import_source(source, reading=row_rules.Reading(zone=zone_named(settings.TIME_ZONE)),
                                         user=user)
    except importing.ImportFailed as exc:
        raise Invalid(_by_field(exc.details, "")) from None
    return result


def licence_tasks(licence_id):
    """Return (publish, withdraw) of a licence window, each a task or None."""
    found = ScheduledTask.objects.in_bulk([f"licence:{licence_id}:publish", f"licence:{licence_id}:withdraw"],
                                          field_name="key")
    return found.get(f"licence:{licence_id}:publish"), found.get(f"licence:{licence_id}:withdraw")


def _by_field(details, label):
    errors = {}
    for _line, column, message in details:
        errors.setdefault(f"{label}{column or 'non_field_errors'}", []).append(str(message))
    return errors
