"""What the API reads and writes. Input is checked by the import's rules (tasks/scheduling.py); these shape the schema."""
from rest_framework import serializers

from tasks.models import ScheduledTask, registered_actions


class TaskSerializer(serializers.ModelSerializer):
    """A task as the API shows it: its definition, its execution (mirrored from DynamoDB) and its sync state."""

    due_at = serializers.DateTimeField(help_text="When it runs, ISO 8601 in UTC.")

    class Meta:
        model = ScheduledTask
        fields = ("id", "content_id", "action", "due_at", "payload", "key", "version", "status", "attempts",
                  "outcome", "last_error", "completed_at", "sync_state", "sync_error", "created_at", "updated_at")
        read_only_fields = fields


class TaskInputSerializer(serializers.Serializer):
    """One task to create. A key makes the create idempotent."""

    content_id = serializers.CharField(max_length=255, help_text="The CMS's id of the item.")
    action = serializers.ChoiceField(choices=[], help_text="One of the registered actions (publish, withdraw, ...).")
    due_at = serializers.DateTimeField(help_text="ISO 8601 with an offset or Z, e.g. 2027-03-01T09:00:00+01:00.")
    payload = serializers.DictField(required=False, help_text="A JSON object (at most 64 KB), sent with the webhook.")
    key = serializers.CharField(required=False, allow_null=True, max_length=200,
                                help_text="Your stable id for this task: the same key again returns the same task.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = registered_actions()


class TaskPatchSerializer(serializers.Serializer):
    """A change to a pending task. Give `version` (or an If-Match header) from your last read."""

    due_at = serializers.DateTimeField(required=False, help_text="ISO 8601 with an offset or Z.")
    action = serializers.ChoiceField(choices=[], required=False)
    payload = serializers.DictField(required=False)
    version = serializers.IntegerField(required=False, help_text="The version you read; a newer one is a 409.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = registered_actions()


class LicenceInputSerializer(serializers.Serializer):
    """A whole licence window: publish at its start and, when it ends, withdraw at its end."""

    content_id = serializers.CharField(max_length=255)
    publish_at = serializers.CharField(help_text="ISO 8601; without an offset, a wall-clock time in `timezone`.")
    withdraw_at = serializers.CharField(required=False, allow_null=True,
                                        help_text="ISO 8601, after publish_at; null or absent: the licence never ends.")
    timezone = serializers.CharField(required=False, allow_null=True,
                                     help_text="IANA zone of times without an offset (default: the editors' zone).")
    payload = serializers.DictField(required=False, help_text="Other facts of the licence (title, territory, ...).")


class LicenceSerializer(serializers.Serializer):
    """A licence window's two tasks, and what a PUT changed."""

    licence_id = serializers.CharField()
    publish = TaskSerializer(allow_null=True)
    withdraw = TaskSerializer(allow_null=True)
    changes = serializers.DictField(required=False, help_text="created, updated, unchanged, cancelled, left_as_is, ended")


class ErrorSerializer(serializers.Serializer):
    """Why a request was refused: a summary, and for bad input each field (or index.field) with its messages."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
    task = TaskSerializer(required=False, help_text="The task as it stands, when its state refused the request.")
