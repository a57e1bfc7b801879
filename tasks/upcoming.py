"""The next days' schedule, grouped by day in the editors' zone (for the admin's upcoming page)."""
from datetime import timedelta
from itertools import groupby

from django.utils import timezone

from tasks.models import ScheduledTask


def upcoming_days(*, now, days=30):
    """Return [{"day", "publish", "withdraw", "tasks"}] for live tasks due from `now` to `days` ahead, by local day."""
    tasks = ScheduledTask.objects.live().filter(due_at__gte=now, due_at__lt=now + timedelta(days=days)).order_by("due_at")
    grouped = []
    for day, items in groupby(tasks, key=lambda t: timezone.localtime(t.due_at).date()):
        items = list(items)
        grouped.append({"day": day, "tasks": items,
                        "publish": sum(t.action == "publish" for t in items),
                        "withdraw": sum(t.action == "withdraw" for t in items)})
    return grouped
