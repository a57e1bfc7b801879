"""The editors' screen: list, filter, search, create and edit scheduled tasks; actions; the upcoming page."""
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from tasks import sync
from tasks.forms import ScheduledTaskForm, ZonedDateTimeField, ZonedSplitDateTime, licence_partner
from tasks.models import ScheduledTask
from tasks.rows import licence_of
from tasks.upcoming import upcoming_days

EXECUTION_FIELDS = ("status", "attempts", "outcome", "last_error", "completed_at")
SYNC_FIELDS = ("version", "sync_state", "synced_version", "sync_error")
STATUS_COLOURS = {"pending": "#205493", "running": "#b35c00", "done": "#2e7d32", "failed": "#c62828", "cancelled": "#666"}


def local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"
    WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("24h", "Next 24 hours"), ("7d", "Next 7 days"), ("30d", "Next 30 days"),
                ("later", "Later")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.due(now)
        if self.value() in self.WINDOWS:
            return queryset.filter(due_at__gt=now, due_at__lte=now + self.WINDOWS[self.value()])
        if self.value() == "later":
            return queryset.filter(due_at__gt=now + self.WINDOWS["30d"])
        return queryset


class DueRangeFilter(admin.ListFilter):
    """Due between two dates (inclusive), read as days in the editors' zone."""

    title = "due between"
    template = "admin/tasks/due_range_filter.html"
    parameters = ("due_from", "due_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1]

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        zone = timezone.get_current_timezone()
        try:
            if self.used_parameters.get("due_from"):
                start = datetime.combine(date.fromisoformat(self.used_parameters["due_from"]), time(), zone)
                queryset = queryset.filter(due_at__gte=start)
            if self.used_parameters.get("due_to"):
                end = datetime.combine(date.fromisoformat(self.used_parameters["due_to"]) + timedelta(days=1), time(), zone)
                queryset = queryset.filter(due_at__lt=end)
        except ValueError as exc:
            raise IncorrectLookupParameters(exc) from None
        return queryset

    def choices(self, changelist):
        kept = {k: v for k, v in changelist.params.items() if k not in self.parameters}
        yield {"values": self.used_parameters, "kept": kept.items(),
               "clear": changelist.get_query_string(remove=self.parameters)}


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(admin.ModelAdmin):
    form = ScheduledTaskForm
    # The admin would put its own date-time field in place of the form's: keep the zoned one.
    formfield_overrides = {models.DateTimeField: {"form_class": ZonedDateTimeField, "widget": ZonedSplitDateTime}}
    list_display = ("content_id", "action", "due", "coloured_status", "attempts", "sync_state", "lateness")
    list_filter = ("status", "action", "sync_state", DueFilter, DueRangeFilter)
    search_fields = ("content_id", "key")
    date_hierarchy = "due_at"
    list_per_page = 50
    actions = ["cancel_selected", "retry_selected", "run_selected_now", "resync_selected"]
    readonly_fields = (*EXECUTION_FIELDS, *SYNC_FIELDS, "licence", "created_at", "created_by", "updated_at", "updated_by")
    fieldsets = (
        (None, {"fields": ("content_id", "action", "due_at", "run_asap", "payload", "key", "licence")}),
        ("Execution (from DynamoDB)", {"fields": EXECUTION_FIELDS}),
        ("Sync", {"fields": SYNC_FIELDS, "classes": ("collapse",)}),
        ("History", {"fields": ("created_at", "created_by", "updated_at", "updated_by"), "classes": ("collapse",)}),
    )

    def get_ordering(self, request):
        # Upcoming first: what can still run, soonest first; then what has finished.
        finished = Case(When(status__in=ScheduledTask.LIVE_STATUSES, then=Value(0)), default=Value(1),
                        output_field=IntegerField())
        return [finished.asc(), "due_at"]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return [(name, {**options, "fields": [f for f in options["fields"] if f != "run_asap"]})
                    for name, options in self.fieldsets]
        return self.fieldsets

    @admin.display(description="due", ordering="due_at")
    def due(self, task):
        return local(task.due_at)

    @admin.display(description="status", ordering="status")
    def coloured_status(self, task):
        return format_html('<span class="task-status" style="color: {}; font-weight: bold">{}</span>',
                           STATUS_COLOURS.get(task.status, "#000"), task.get_status_display())

    @admin.display(description="late by")
    def lateness(self, task):
        if task.status != ScheduledTask.Status.DONE or not task.completed_at:
            return ""
        seconds = max(0, int((task.completed_at - task.due_at).total_seconds()))
        return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds >= 3600 else f"{seconds // 60} min {seconds % 60} s"

    @admin.display(description="licence window")
    def licence(self, task):
        partner = licence_partner(licence_of(task.key), task.action, exclude=task.pk)
        if partner is None:
            return "-"
        verb = "withdrawn" if partner.action == "withdraw" else "published"
        url = reverse("admin:tasks_scheduledtask_change", args=[partner.pk])
        return format_html('<a href="{}">{} on {}</a> ({})', url, verb, local(partner.due_at), partner.get_status_display())

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "editors_zone": settings.TIME_ZONE}
        return super().changelist_view(request, extra_context)

    def has_change_permission(self, request, obj=None):
        # Only a pending task may change: a running or finished one is history (view only).
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status != obj.Status.RUNNING)

    def has_cancel_permission(self, request):
        return request.user.has_perm("tasks.cancel_task")

    def has_run_permission(self, request):
        return request.user.has_perm("tasks.run_task")

    def has_resync_permission(self, request):
        return self.has_change_permission(request)

    def _report(self, request, counts, done, refused_reason):
        self.message_user(request, f"{counts[done]} task(s) {done}.", messages.SUCCESS)
        if counts["refused"]:
            self.message_user(request, f"{counts['refused']} task(s) not {done}: {refused_reason}.", messages.WARNING)
        if counts["errors"]:
            self.message_user(request, f"{counts['errors']} task(s) not {done}: DynamoDB could not be reached. "
                                       "Try again.", messages.ERROR)

    @admin.action(description="Cancel selected tasks", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        self._report(request, sync.cancel_tasks(queryset, user=request.user), "cancelled",
                     "already running, finished or cancelled")

    @admin.action(description="Retry selected failed tasks now", permissions=["run"])
    def retry_selected(self, request, queryset):
        self._report(request, sync.retry_tasks(queryset, user=request.user), "retried", "only failed tasks are retried")

    @admin.action(description="Run selected pending tasks now", permissions=["run"])
    def run_selected_now(self, request, queryset):
        self._report(request, sync.run_now(queryset, user=request.user), "moved",
                     "only pending tasks can be run now; the worker may have started them")

    @admin.action(description="Resync selected tasks with DynamoDB", permissions=["resync"])
    def resync_selected(self, request, queryset):
        counts = sync.resync_tasks(queryset)
        self.message_user(request, f"{counts['pushed']} task(s) pushed, {counts['pulled']} updated from DynamoDB.",
                          messages.SUCCESS)
        if counts["errors"]:
            self.message_user(request, f"{counts['errors']} task(s) not synced: see their sync error.", messages.ERROR)

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

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        if add or "due_at" not in form.changed_data:
            return message
        # The history keeps both times, in the editors' zone, not only "Changed due at."
        due = f"due at ({local(form.initial['due_at'])} → {local(form.cleaned_data['due_at'])})"
        others = [str(form.fields[f].label or f).lower() for f in form.changed_data if f not in ("due_at", "run_asap")]
        return f"Changed {', '.join([due, *others])}."

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

    def get_urls(self):
        upcoming = self.admin_site.admin_view(self.upcoming_view)
        return [path("upcoming/", upcoming, name="tasks_scheduledtask_upcoming"), *super().get_urls()]

    def upcoming_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Upcoming: the next 30 days",
                   "editors_zone": settings.TIME_ZONE,
                   "days": upcoming_days(now=timezone.now(), days=30)}
        return TemplateResponse(request, "admin/tasks/scheduledtask/upcoming.html", context)
