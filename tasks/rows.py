"""Turn the records of an import file into validated task rows (tasks, licence windows, JSON), one error per field."""
import hashlib
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from tasks.models import payload_problem, registered_actions, text_problem
from tasks.times import BadTime, parse_time, zone_named

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_KEY_LENGTH = 200
ID_KEY = "id:"  # export_tasks writes id:<task id> for a task without a key, so that it imports back as itself
TASK_COLUMNS = ("content_id", "action", "due_at")
TASK_OPTIONAL = ("payload", "key", "timezone", "status")
WINDOW_COLUMNS = ("licence_id", "content_id", "publish_at")
WINDOW_OPTIONAL = ("withdraw_at", "timezone")
# A task exported after it ran (or started) is history: importing it must never run it again.
FINISHED_STATUSES = ("running", "done", "failed", "cancelled")


@dataclass
class Row:
    """One task as an import file asks for it; `cancel` asks that the task of `key` no longer run."""

    line: int
    key: str
    content_id: str = ""
    action: str = ""
    due_at: datetime = None
    payload: dict = None
    cancel: bool = False
    over: bool = False  # a licence window that has ended: create nothing, but leave its tasks be
    late: bool = False  # its time had passed: due now

    def fields(self):
        """Return what decides whether two rows (or a row and a task) ask for the same thing."""
        due = "cancel" if self.cancel else self.due_at.isoformat()
        return json.dumps([self.content_id, self.action, due, self.payload], sort_keys=True)


class Errors:
    """Collect 'line N: column: message' errors, keeping the first `shown` of them and a count."""

    def __init__(self, shown=50):
        self.shown, self.messages, self.details, self.count, self.rows, self._last_line = shown, [], [], 0, 0, None

    def add(self, line, column, message):
        self.count += 1
        if line != self._last_line:  # a row's errors come together
            self.rows, self._last_line = self.rows + 1, line
        if len(self.messages) < self.shown:
            self.messages.append(f"line {line}: {column}: {message}" if column else f"line {line}: {message}")
            self.details.append((line, column, message))  # the same, for callers that name fields (the API)


@dataclass
class Reading:
    """How to read times: the zone of naive times (unless a row names its own) and an optional strptime format."""

    zone: object
    date_format: str = None

    def time(self, record, column, errors, line, zone):
        try:
            return parse_time(str(record[column]), zone=zone or self.zone, date_format=self.date_format)
        except BadTime as exc:
            errors.add(line, column, str(exc))
        return None


def check_columns(format, columns):
    """Raise ValueError naming missing columns; return the columns the import will ignore."""
    required, optional = (WINDOW_COLUMNS, WINDOW_OPTIONAL) if format == "windows" else (TASK_COLUMNS, TASK_OPTIONAL)
    missing = [c for c in required if c not in columns]
    if missing:
        raise ValueError(f"line 1: header: missing column(s) {', '.join(missing)}; expected {', '.join(required)} "
                         f"and optionally {', '.join(optional)}")
    return [] if format == "windows" else [c for c in columns if c and c not in required + optional]


def task_rows(line, record, reading, errors):
    """Return the row of one tasks CSV or JSON record ([] if invalid or a finished task), adding its errors."""
    found = errors.count
    if "" in record:
        errors.add(line, "", record[""])
        return []
    if _text(record, "status", line, errors) not in ("", "pending"):
        errors.add(line, "status", f"{record['status']!r} is not a status a task is imported with (pending)")
    content_id = _content_id(record, line, errors)
    action = _text(record, "action", line, errors)
    if action not in settings.SCHEDULER_ACTIONS:
        errors.add(line, "action", f"unknown action {action!r}; valid actions: {', '.join(registered_actions())}")
    zone = _zone(record, line, errors)
    due_at = reading.time(record, "due_at", errors, line, zone) if _text(record, "due_at", line, errors) else _bad(
        errors, line, "due_at", "is empty")
    payload = _payload(record.get("payload"), line, errors)
    key = _text(record, "key", line, errors)
    if len(key) > MAX_KEY_LENGTH:
        errors.add(line, "key", f"longer than {MAX_KEY_LENGTH} characters")
    elif key.startswith(ID_KEY) and not _is_uuid(key.removeprefix(ID_KEY)):
        errors.add(line, "key", f"{key!r}: a key starting with {ID_KEY} names a task id, which is a UUID")
    if errors.count > found:
        return []
    key = key or "sha256:" + hashlib.sha256(f"{content_id}\x1f{action}\x1f{due_at.isoformat()}".encode()).hexdigest()[:40]
    return [Row(line, key, content_id, action, due_at, payload)]


def window_rows(line, record, reading, errors):
    """Return the publish row of one licence window and its withdraw row (or a cancel of it, if it never ends)."""
    found = errors.count
    if "" in record:
        errors.add(line, "", record[""])
        return []
    licence_id = _text(record, "licence_id", line, errors) or _bad(errors, line, "licence_id", "is empty")
    if licence_id and (problem := identifier_problem(licence_id)) is not None:
        errors.add(line, "licence_id", f"{licence_id!r} {problem}")
    content_id = _content_id(record, line, errors)
    zone = _zone(record, line, errors)
    publish_at = reading.time(record, "publish_at", errors, line, zone) if record.get("publish_at") else _bad(
        errors, line, "publish_at", "is empty")
    withdraw_at = reading.time(record, "withdraw_at", errors, line, zone) if record.get("withdraw_at") else None
    if publish_at and withdraw_at and withdraw_at <= publish_at:
        errors.add(line, "withdraw_at", f"{record['withdraw_at']} is not after publish_at {record['publish_at']}")
    # An empty cell is no value; a JSON record's false or 0 is one.
    extra = {k: v for k, v in record.items() if k not in WINDOW_COLUMNS + WINDOW_OPTIONAL and v not in ("", None)}
    payload = _payload({"licence_id": licence_id, **extra}, line, errors)
    if licence_id and len(f"licence:{licence_id}:withdraw") > MAX_KEY_LENGTH:
        errors.add(line, "licence_id", f"longer than {MAX_KEY_LENGTH - 18} characters")
    if errors.count > found:
        return []
    key = f"licence:{licence_id}:"
    publish = Row(line, key + "publish", content_id, "publish", publish_at, payload)
    if withdraw_at is None:
        return [publish, Row(line, key + "withdraw", cancel=True)]
    return [publish, Row(line, key + "withdraw", content_id, "withdraw", withdraw_at, payload)]


def is_history(record):
    """Tell whether a record is a task exported after it ran: such a record is skipped, never run again."""
    return isinstance(record.get("status"), str) and record["status"].strip() in FINISHED_STATUSES


def licence_of(key):
    """Return the licence id in a window task's key, or None for other keys."""
    if key and key.startswith("licence:"):
        return key[len("licence:"):].rpartition(":")[0]
    return None


def _is_uuid(text):
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _bad(errors, line, column, message):
    errors.add(line, column, message)
    return None


def _text(record, column, line, errors):
    value = record.get(column)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(line, column, f"must be text, not {type(value).__name__}")
        return ""
    if (problem := text_problem(value)) is not None:
        errors.add(line, column, problem)
        return ""
    return value.strip()


def _content_id(record, line, errors):
    found = errors.count
    content_id = _text(record, "content_id", line, errors)
    if errors.count > found:
        return content_id
    if not content_id:
        errors.add(line, "content_id", "is empty")
    elif len(content_id) > 255:
        errors.add(line, "content_id", "longer than 255 characters")
    elif (problem := identifier_problem(content_id)) is not None:
        errors.add(line, "content_id", f"{content_id!r} {problem}")
    return content_id


def identifier_problem(text):
    """Return why a text cannot be an id (a content or licence id), or None: it must be storable and one line."""
    if (problem := text_problem(text)) is not None:
        return problem
    if any(unicodedata.category(c) == "Cc" for c in text):
        return "contains a line break or control character"
    return None


def _zone(record, line, errors):
    name = _text(record, "timezone", line, errors)
    if not name:
        return None
    try:
        return zone_named(name)
    except BadTime as exc:
        errors.add(line, "timezone", str(exc))
    return None


def _payload(value, line, errors):
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        if len(value.encode()) > MAX_PAYLOAD_BYTES:
            return _bad(errors, line, "payload", f"larger than {MAX_PAYLOAD_BYTES // 1024} KB")
        try:
            value = json.loads(value)
        except ValueError as exc:
            return _bad(errors, line, "payload", f"not valid JSON ({exc})")
    if not isinstance(value, dict):
        return _bad(errors, line, "payload", f"must be a JSON object, not {type(value).__name__}")
    if (problem := payload_problem(value)) is not None:
        return _bad(errors, line, "payload", problem)
    size = len(json.dumps(value).encode())
    if size > MAX_PAYLOAD_BYTES:
        return _bad(errors, line, "payload", f"larger than {MAX_PAYLOAD_BYTES // 1024} KB")
    return value
