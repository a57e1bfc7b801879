"""The editors' screen: list, filter, search, create and edit scheduled tasks."""
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from tasks import sync
from tasks.models import ScheduledTask, registered_actions

EXECUTION_FIELDS = ("status", "attempts", "outcome", "last_error", "completed_at")
SYNC_FIELDS = ("version", "sync_state", "synced_version", "sync_error")


class ScheduledTaskForm(forms.ModelForm):
    class Meta:
        model = ScheduledTask
        fields = ("content_id", "action", "due_at", "payload", "key")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "action" in self.fields:  # a view-only form has no editable fields
            self.fields["action"] = forms.ChoiceField(choices=[(a, a) for a in registered_actions()])
        if "due_at" in self.fields:
            self.fields["due_at"].help_text = f"In the editors' time zone, {settings.TIME_ZONE}."


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(admin.ModelAdmin):
    form = ScheduledTaskForm
    list_display = ("content_id", "action", "due", "status", "attempts", "sync_state")
    list_filter = ("status", "action", "sync_state")
    search_fields = ("content_id", "key")
    date_hierarchy = "due_at"
    ordering = ("due_at",)
    list_per_page = 50
    actions = ["cancel_selected"]
    readonly_fields = (*EXECUTION_FIELDS, *SYNC_FIELDS, "created_at", "created_by", "updated_at", "updated_by")
    fieldsets = (
        (None, {"fields": ("content_id", "action", "due_at", "payload", "key")}),
        ("Execution (from DynamoDB)", {"fields": EXECUTION_FIELDS}),
        ("Sync", {"fields": SYNC_FIELDS, "classes": ("collapse",)}),
        ("History", {"fields": ("created_at", "created_by", "updated_at", "updated_by"), "classes": ("collapse",)}),
    )

    @admin.display(description="due", ordering="due_at")
    def due(self, task):
        return timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M %Z")

    def has_change_permission(self, request, obj=None):
        # Only a pending task may change: a running or finished one is history (view only).
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status != obj.Status.RUNNING)

    def has_cancel_permission(self, request):
        return request.user.has_perm("tasks.cancel_task")

    @admin.action(description="Cancel selected tasks", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        counts = sync.cancel_tasks(queryset, user=request.user)
        self.message_user(request, f"{counts['cancelled']} task(s) cancelled.", messages.SUCCESS)
        if counts["refused"]:
            self.message_user(request, f"{counts['refused']} task(s) not cancelled: already running, finished "
                                       "or cancelled.", messages.WARNING)
        if counts["errors"]:
            self.message_user(request, f"{counts['errors']} task(s) not cancelled: DynamoDB could not be reached. "
                                       "Try again.", messages.ERROR)

    def delete_model(self, request, obj):
        counts = sync.delete_tasks([obj])
        request.delete_refused = not counts["deleted"]

    def delete_queryset(self, request, queryset):
        counts = sync.delete_tasks(queryset)
        if counts["refused"] or counts["errors"]:
            self.message_user(request, f"{counts['refused'] + counts['errors']} task(s) not deleted: running now, "
                                       "or DynamoDB could not be reached.", messages.WARNING)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "delete_refused", False):
            self.message_user(request, f"“{obj_display}” was not deleted: the worker is running it now, or "
                                       "DynamoDB could not be reached. Try again once it has finished.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:tasks_scheduledtask_changelist"))
        return super().response_delete(request, obj_display, obj_id)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.record_change(request.user)
        elif form.has_changed():
            obj.record_change(request.user, ScheduledTask.objects.current_version(obj.pk))
        super().save_model(request, obj, form, change)
        request.saved_task_pk = obj.pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        # The push runs after the commit, which is after the view built its messages: report it now.
        saved = getattr(request, "saved_task_pk", None)
        if saved:
            self._warn_unsynced(request, saved)
        return response

    def _warn_unsynced(self, request, task_pk):
        task = ScheduledTask.objects.filter(pk=task_pk).first()
        if task and task.sync_state == ScheduledTask.SyncState.ERROR:
            messages.warning(
                request,
                f"Saved, but not yet sent to the scheduler's DynamoDB table: {task.sync_error} "
                "The task will not run until it is synced.",
            )
