"""Import a file of tasks or licence windows: stream, validate, upsert by key in chunks, all or nothing; then push."""
import itertools
import logging
import sqlite3
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from tasks import rows as row_rules
from tasks import sync
from tasks.models import ScheduledTask

logger = logging.getLogger(__name__)

CHUNK = 1000
EDITABLE_FIELDS = ["content_id", "action", "due_at", "payload", "version", "sync_state", "updated_by",
                   "status", "completed_at", "outcome"]
CANCELLED_BY_IMPORT = "cancelled by import"
CANCEL_REASONS = {"endless": f"{CANCELLED_BY_IMPORT}: the licence no longer ends",
                  "missing": f"{CANCELLED_BY_IMPORT}: the licence is not in the file"}
KEPT_LINES_SHOWN = 10


class ImportFailed(Exception):
    """The file has errors and nothing was written; `errors` holds the first of them, `count` how many."""

    def __init__(self, errors, count=None, details=()):
        super().__init__("\n".join(errors))
        self.errors, self.count = errors, count if count is not None else len(errors)
        self.details = list(details)  # (line, column, message) of the first errors, where known


@dataclass
class ImportResult:
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    repeated: int = 0
    due_now: int = 0  # their time had passed: due at the next tick
    over: int = 0  # licence windows that ended before the import: nothing created
    history: int = 0  # exported tasks that had run: skipped
    cancelled: int = 0  # withdraws of licences that no longer end, and with cancel_missing, missing licences
    revived: int = 0  # tasks an earlier import had cancelled, asked for again (counted as updated too)
    kept: int = 0  # rows that differ from tasks already run, running or cancelled by an editor: left alone
    kept_lines: list = field(default_factory=list)
    invalid: int = 0
    error_count: int = 0
    errors: list = field(default_factory=list)  # the first of them, when invalid rows were skipped
    ignored_columns: list = field(default_factory=list)
    pushed: int = 0
    push_errors: int = 0
    cancel_refused: int = 0
    cancel_errors: int = 0
    seconds_sql: float = 0.0  # reading, checking and the SQL transaction
    seconds_dynamodb: float = 0.0  # the pushes and cancels after the commit


class SeenKeys:
    """The keys met so far in one import, with their line and fields, on disk: memory stays flat at any file size."""

    PUSH, PUSH_NEW, CANCEL_ENDLESS, CANCEL_MISSING = 1, 2, 3, 4

    def __init__(self):
        self.db = sqlite3.connect("")  # a private temporary database, deleted on close
        self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER, fields TEXT, task_id TEXT, todo INTEGER)")
        self.db.execute("CREATE TABLE licences (id TEXT PRIMARY KEY)")

    def first(self, row):
        """Record a row's key; return (line, fields) of an earlier row with the same key, or None."""
        found = self.db.execute("SELECT line, fields FROM seen WHERE key = ?", (row.key,)).fetchone()
        if found is None:
            self.db.execute("INSERT INTO seen (key, line, fields) VALUES (?, ?, ?)", (row.key, row.line, row.fields()))
        return found

    def add_licence(self, licence_id):
        self.db.execute("INSERT OR IGNORE INTO licences (id) VALUES (?)", (licence_id,))

    def has_licence(self, licence_id):
        return self.db.execute("SELECT 1 FROM licences WHERE id = ?", (licence_id,)).fetchone() is not None

    def licence_count(self):
        return self.db.execute("SELECT count(*) FROM licences").fetchone()[0]

    def mark(self, task_ids, todo, keys=None):
        """Note tasks to push (or cancel) after the commit, by their row keys (or, for tasks not in the file, ids)."""
        if keys is None:
            self.db.executemany("INSERT INTO seen (key, task_id, todo) VALUES (?, ?, ?)",
                                [(f"id:{t}", str(t), todo) for t in task_ids])
        else:
            self.db.executemany("UPDATE seen SET task_id = ?, todo = ? WHERE key = ?",
                                [(str(t), todo, k) for t, k in zip(task_ids, keys)])

    def todo(self, todo):
        """Yield chunks of the task ids marked `todo`."""
        cursor = self.db.execute("SELECT task_id FROM seen WHERE todo = ? ORDER BY task_id", (todo,))
        while chunk := cursor.fetchmany(CHUNK):
            yield [task_id for (task_id,) in chunk]

    def close(self):
        self.db.close()


def import_source(source, *, reading, now=None, user=None, dry_run=False, skip_invalid=False, cancel_missing=False,
                  progress=None):
    """Create, update or cancel the tasks a Source asks for, by key, in one transaction; push them after the commit.

    Raise ImportFailed (nothing written) if any row is invalid, unless `skip_invalid`: then valid rows are
    imported and the result lists the errors. A dry run does all the work and rolls it back.
    """
    if cancel_missing and source.format != "windows":
        raise ValueError("--cancel-missing applies to licence windows: it cancels the licences a full export lacks")
    try:
        ignored = row_rules.check_columns(source.format, source.columns) if source.format != "json" else []
    except ValueError as exc:
        raise ImportFailed([str(exc)]) from None
    result, errors, seen = ImportResult(ignored_columns=ignored), row_rules.Errors(), SeenKeys()
    now, started = now or timezone.now(), time.perf_counter()
    to_rows = row_rules.window_rows if source.format == "windows" else row_rules.task_rows
    try:
        with transaction.atomic():
            for chunk in _chunks(source.records, CHUNK):
                rows = []
                for line, record in chunk:
                    result.records += 1
                    if row_rules.is_history(record):
                        result.history += 1
                        continue
                    if cancel_missing and isinstance(record.get("licence_id"), str):
                        seen.add_licence(record["licence_id"].strip())  # even from an invalid row: never cancel it
                    rows.extend(_fresh(_timely(to_rows(line, record, reading, errors), now), seen, result, errors))
                writing = skip_invalid or not errors.count  # after the first error, only look for more
                _upsert(rows, seen, result, errors, now=now, user=user, writing=writing)
                if progress:
                    progress(len(chunk))
            if cancel_missing and (skip_invalid or not errors.count):
                if not seen.licence_count():
                    raise ImportFailed(["--cancel-missing: the file holds no licence windows, so every licence would be "
                                        "cancelled; nothing was imported"])
                _mark_missing_licences(seen, result)
            result.invalid, result.errors, result.error_count = errors.rows, errors.messages, errors.count
            if errors.count and not skip_invalid:
                raise ImportFailed(errors.messages, errors.count, errors.details)
            result.seconds_sql = time.perf_counter() - started
            if dry_run:
                transaction.set_rollback(True)
                seen.close()
                return result
            transaction.on_commit(lambda: _push(seen, result, user=user, now=now))
    except BaseException:
        seen.close()
        raise
    return result


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _timely(rows, now):
    """Make rows whose time has passed due now; mark a licence window that has ended entirely as over."""
    if len(rows) == 2 and not rows[1].cancel and rows[1].due_at <= now:
        rows[0].over = rows[1].over = True
        return rows
    for row in rows:
        if not row.cancel and row.due_at <= now:
            row.due_at, row.late = now, True
    return rows


def _fresh(rows, seen, result, errors):
    """Return the rows of one record whose keys the file has not had yet; count a record repeated whole."""
    fresh, repeated = [], False
    for row in rows:
        earlier = seen.first(row)
        if earlier is None:
            fresh.append(row)
        elif earlier[1] == row.fields():
            repeated = True  # the same task twice in one file is scheduled once
        else:
            errors.add(row.line, "key", f"{row.key} is also on line {earlier[0]}, with other values")
    if repeated and not fresh:
        result.repeated += 1
    return fresh


def _upsert(rows, seen, result, errors, *, now, user, writing):
    if not writing:
        return
    existing = _existing(rows)
    created, updated, unpushed, cancels = [], [], [], []
    for row in rows:
        task = existing.get(row.key)
        if row.cancel:
            if task is not None and task.is_editable:
                cancels.append(task)
        elif task is None:
            if row.over:
                result.over += row.action == "publish"  # once a window: nothing to create for it
                continue
            task = ScheduledTask(key=row.key, content_id=row.content_id, action=row.action, due_at=row.due_at,
                                 payload=row.payload)
            if row.key.startswith(row_rules.ID_KEY):  # an exported task without a key of its own keeps its id
                task.pk, task.key = row.key.removeprefix(row_rules.ID_KEY), None
            task.record_change(user)
            created.append(task)
            result.due_now += row.late
        elif _revivable(task, row):
            _apply(row, task, user, revive=True)
            updated.append(task)
            result.revived += 1
            result.due_now += row.late
        elif not _differs(row, task, now):
            result.unchanged += 1
            if task.is_editable and task.sync_state != ScheduledTask.SyncState.SYNCED:
                unpushed.append(task)
        elif not task.is_editable:
            # It ran, runs, or an editor cancelled it: that stands; the file's change is reported, not applied.
            result.kept += 1
            if len(result.kept_lines) < KEPT_LINES_SHOWN:
                result.kept_lines.append(f"line {row.line}: {row.key} is {task.status}: {row.action} not changed")
        else:
            _apply(row, task, user)
            updated.append(task)
            result.due_now += row.late
    ScheduledTask.objects.bulk_create(created)
    ScheduledTask.objects.bulk_update(updated, EDITABLE_FIELDS)
    result.created, result.updated, result.cancelled = (
        result.created + len(created), result.updated + len(updated), result.cancelled + len(cancels))
    for tasks, todo in ((created, SeenKeys.PUSH_NEW), (updated + unpushed, SeenKeys.PUSH),
                        (cancels, SeenKeys.CANCEL_ENDLESS)):
        seen.mark([t.pk for t in tasks], todo, keys=[t.key or f"{row_rules.ID_KEY}{t.pk}" for t in tasks])


def _existing(rows):
    """Return {row key: task} for the rows' tasks, locked until the import commits."""
    locked = ScheduledTask.objects.select_for_update()
    by_id = [r.key.removeprefix(row_rules.ID_KEY) for r in rows if r.key.startswith(row_rules.ID_KEY)]
    found = locked.in_bulk([r.key for r in rows if not r.key.startswith(row_rules.ID_KEY)], field_name="key")
    found.update({f"{row_rules.ID_KEY}{pk}": task for pk, task in locked.in_bulk(by_id).items()})
    return found


def _revivable(task, row):
    """Tell whether a task an import cancelled (licence gone, or no longer ending) is asked for again."""
    return (task.status == ScheduledTask.Status.CANCELLED and task.outcome.startswith(CANCELLED_BY_IMPORT)
            and not row.over)


def _apply(row, task, user, revive=False):
    task.content_id, task.action, task.due_at, task.payload = row.content_id, row.action, row.due_at, row.payload
    if revive:
        task.status, task.completed_at, task.outcome = ScheduledTask.Status.PENDING, None, ""
    task.record_change(user)


def _differs(row, task, now):
    if (row.content_id, row.action, row.payload) != (task.content_id, task.action, task.payload):
        return True
    # A time that has passed means "now" on both sides: importing the file again changes nothing.
    return row.due_at != task.due_at and not (row.due_at <= now and task.due_at <= now)


def _mark_missing_licences(seen, result):
    """Mark for cancelling the pending window tasks whose licence the file (a full export) no longer has."""
    pending = ScheduledTask.objects.filter(status=ScheduledTask.Status.PENDING, key__startswith="licence:")
    for chunk in _chunks(pending.values_list("pk", "key").iterator(chunk_size=CHUNK), CHUNK):
        missing = [pk for pk, key in chunk if not seen.has_licence(row_rules.licence_of(key))]
        seen.mark(missing, SeenKeys.CANCEL_MISSING)
        result.cancelled += len(missing)


def _push(seen, result, *, user, now):
    """After the commit: push created and changed tasks in batches, and cancel what the file cancelled."""
    started = time.perf_counter()
    try:
        for todo in (SeenKeys.PUSH_NEW, SeenKeys.PUSH):
            for ids in seen.todo(todo):
                tasks = list(ScheduledTask.objects.filter(pk__in=ids))
                pushed, push_errors = sync.push_tasks(tasks, now=now, new=todo == SeenKeys.PUSH_NEW)
                result.pushed, result.push_errors = result.pushed + pushed, result.push_errors + push_errors
        for todo, reason in ((SeenKeys.CANCEL_ENDLESS, "endless"), (SeenKeys.CANCEL_MISSING, "missing")):
            for ids in seen.todo(todo):
                counts = sync.cancel_tasks(ScheduledTask.objects.filter(pk__in=ids), user=user, now=now,
                                           reason=CANCEL_REASONS[reason])
                result.cancel_refused += counts["refused"]
                result.cancel_errors += counts["errors"]
                result.cancelled -= counts["refused"] + counts["errors"]
    finally:
        seen.close()
        result.seconds_dynamodb = time.perf_counter() - started
