"""The editors' record of what to do and when: ScheduledTask and its QuerySet (no I/O here)."""
import math
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def registered_actions():
    """Return the action names the worker can perform, from settings, in a stable order."""
    return sorted(settings.SCHEDULER_ACTIONS)


def validate_action(value):
    if value not in settings.SCHEDULER_ACTIONS:
        raise ValidationError(
            "Unknown action %(value)s; valid actions: %(valid)s.",
            params={"value": repr(value), "valid": ", ".join(registered_actions())},
        )


def text_problem(value):
    """Return why a text cannot be stored (a NUL character, or half of a UTF-16 pair), or None if it can."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which databases do not store"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (half of a UTF-16 character), which is not valid Unicode"
    return None


# DynamoDB's documented limits: numbers of at most 38 significant digits between 1e-130 and 1e126 in
# magnitude, and attributes nested at most 32 deep (the payload is one level of its item).
MAX_PAYLOAD_DEPTH = 31
NUMBER_DIGITS, NUMBER_EXPONENTS = 38, range(-130, 126)


def payload_problem(value):
    """Return why a JSON value cannot be a payload's content (nesting, a number or a text DynamoDB or the
    databases refuse, NaN), or None. One walk, without recursion: any depth is safe to check."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_PAYLOAD_DEPTH:
            return f"is nested deeper than {MAX_PAYLOAD_DEPTH} levels, which DynamoDB does not store"
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and (problem := text_problem(key)) is not None:
                    return problem
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if (problem := text_problem(item)) is not None:
                return problem
        elif (problem := number_problem(item)) is not None:
            return problem
    return None


def number_problem(value):
    """Return why a number cannot be stored in DynamoDB (too many digits, too large or too small), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value == 0:
        return None
    if not math.isfinite(value):
        return "contains NaN or Infinity, which JSON has no numbers for"
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    significant = "".join(map(str, number.as_tuple().digits)).rstrip("0")  # exact: no rounding context
    if len(significant) > NUMBER_DIGITS:
        return f"has a number of more than {NUMBER_DIGITS} digits, which DynamoDB does not store: {value}"
    if number.copy_abs().adjusted() not in NUMBER_EXPONENTS:
        return f"has a number out of DynamoDB's range (1e-130 to 1e126 in size): {value}"
    return None


def validate_payload(value):
    if not isinstance(value, dict):
        raise ValidationError("Payload must be a JSON object, such as {\"territory\": \"GB\"}.")
    if (problem := payload_problem(value)) is not None:
        raise ValidationError("Payload %(problem)s.", params={"problem": problem})


class ScheduledTaskQuerySet(models.QuerySet):
    def live(self):
        """Tasks that can still run: pending or running."""
        return self.filter(status__in=ScheduledTask.LIVE_STATUSES)

    def due(self, now=None):
        """Live tasks whose time has come."""
        return self.live().filter(due_at__lte=now or timezone.now())

    def unsynced(self):
        """Rows whose latest version has not reached DynamoDB."""
        return self.exclude(sync_state=ScheduledTask.SyncState.SYNCED)

    def current_version(self, pk):
        """Return a row's committed version, locking the row until the transaction ends."""
        return self.select_for_update().values_list("version", flat=True).get(pk=pk)


class ScheduledTask(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class SyncState(models.TextChoices):
        PENDING = "pending"
        SYNCED = "synced"
        ERROR = "error"

    LIVE_STATUSES = (Status.PENDING, Status.RUNNING)

    # The definition: what editors schedule. The id is also the DynamoDB key.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    action = models.CharField(max_length=64, validators=[validate_action])
    content_id = models.CharField("content id", max_length=255)
    payload = models.JSONField(default=dict, blank=True, validators=[validate_payload])
    due_at = models.DateTimeField("due at", db_index=True)
    key = models.CharField(
        "external key", max_length=200, unique=True, null=True, blank=True,
        help_text="Stable key from an import or a client, so that a repeated import updates instead of duplicating.",
    )
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every editor change.")

    # The execution, mirrored from DynamoDB (which is authoritative for it).
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    outcome = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    # How far the row has reached DynamoDB.
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.PENDING)
    synced_version = models.PositiveIntegerField(default=0)
    sync_error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScheduledTaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_at"]
        verbose_name = "scheduled task"
        indexes = [models.Index(fields=["sync_state"], name="task_sync_state")]
        permissions = [("cancel_task", "Can cancel scheduled tasks"), ("run_task", "Can run scheduled tasks now")]

    def __str__(self):
        return f"{self.action} {self.content_id} at {self.due_at:%Y-%m-%d %H:%M %Z}"

    @property
    def is_editable(self):
        return self.status == self.Status.PENDING

    def record_change(self, user=None, current_version=None):
        """Mark an editor's change: a new version, so that only this change may replace the DynamoDB item.

        Pass the row's `current_version` as read under a lock, so that two editors never make the same one.
        """
        if self._state.adding:
            self.created_by = self.created_by or user
        else:
            self.version = (current_version or self.version) + 1
        self.updated_by = user or self.updated_by
        self.sync_state = self.SyncState.PENDING
