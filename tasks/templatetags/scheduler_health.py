"""{% scheduler_health %}: the banner on the admin's pages (last tick, failed tasks, sync errors)."""
from django import template
from django.urls import reverse
from django.utils import timezone

from tasks.health import health

register = template.Library()


@register.inclusion_tag("admin/tasks/health_banner.html", takes_context=True)
def scheduler_health(context):
    request = context.get("request")
    if request is None or not request.user.is_active or not request.user.is_staff:
        return {"show": False}
    changelist = reverse("admin:tasks_scheduledtask_changelist")
    return {"show": True, **health(now=timezone.now()),
            "failed_url": f"{changelist}?status__exact=failed", "errors_url": f"{changelist}?sync_state__exact=error"}
