"""Write tasks out in the import's own formats (tasks CSV, JSON), streaming, so an export imports back as it was."""
import csv
import json

from tasks.models import ScheduledTask
from tasks.rows import ID_KEY

COLUMNS = ("content_id", "action", "due_at", "payload", "key", "status")


def export_tasks(stream, *, format="csv", statuses=None):
    """Write the tasks with one of `statuses` (all if None), soonest first, to a text stream; return the count."""
    tasks = ScheduledTask.objects.order_by("due_at", "pk")
    if statuses:
        tasks = tasks.filter(status__in=statuses)
    records = (_record(task) for task in tasks.iterator(chunk_size=2000))
    return _write_csv(stream, records) if format == "csv" else _write_json(stream, records)


def _record(task):
    return {
        "content_id": task.content_id, "action": task.action,
        "due_at": task.due_at.isoformat().replace("+00:00", "Z"),
        "payload": task.payload, "key": task.key or f"{ID_KEY}{task.pk}", "status": task.status,
    }


def _write_csv(stream, records):
    writer, count = csv.writer(stream, lineterminator="\n"), 0
    writer.writerow(COLUMNS)
    for record in records:
        record["payload"] = json.dumps(record["payload"], ensure_ascii=False) if record["payload"] else ""
        writer.writerow([record[c] for c in COLUMNS])
        count += 1
    return count


def _write_json(stream, records):
    count = 0
    stream.write("[")
    for record in records:
        stream.write(("," if count else "") + "\n  " + json.dumps(record, ensure_ascii=False))
        count += 1
    stream.write("\n]\n")
    return count
