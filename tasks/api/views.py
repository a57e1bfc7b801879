"""The API's views: thin, each a call of one service in tasks/scheduling.py."""
import re
from datetime import timezone

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ParseError, PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks import scheduling
from tasks.api.permissions import TaskPermissions
from tasks.api.serializers import (ErrorSerializer, LicenceInputSerializer, LicenceSerializer, TaskInputSerializer,
                                   TaskPatchSerializer, TaskSerializer)
from tasks.models import ScheduledTask
from tasks.times import RANGE_TEXT, BadTime, in_range

MAX_BATCH = 500
ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def errors(*codes):
    """The error responses of an operation, all in ErrorSerializer's shape."""
    reasons = {400: "Invalid input: each field and why", 401: "No valid token", 403: "The token lacks the permission",
               404: "No such task", 409: "The task's state or version refuses it", 412: "If-Match names an older version",
               428: "A version check is required", 503: "DynamoDB could not be reached; nothing changed"}
    return {code: OpenApiResponse(ErrorSerializer, description=reasons[code]) for code in codes}


class InstantFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 instant (without an offset: in the editors' zone), within the years the scheduler takes."""

    def __init__(self, *args, param, **kwargs):
        super().__init__(*args, **kwargs)
        self.param = param

    def filter(self, qs, value):
        if value is not None:  # a time without an offset arrives here in the editors' zone (TIME_ZONE)
            try:
                # In UTC: PostgreSQL refuses offsets beyond 15:59, which ISO 8601 (and Python) allow.
                value = in_range(value.astimezone(timezone.utc))
            except (BadTime, OverflowError):
                raise ValidationError({self.param: [f"out of range: {RANGE_TEXT}"]}) from None
        return super().filter(qs, value)


class TaskFilter(django_filters.FilterSet):
    """The list's filters; the due range is inclusive at both ends."""

    status = django_filters.ChoiceFilter(choices=ScheduledTask.Status.choices)
    action = django_filters.CharFilter()
    content_id = django_filters.CharFilter()
    key = django_filters.CharFilter()
    due_after = InstantFilter(field_name="due_at", lookup_expr="gte", param="due_after",
                              help_text="Due at or after this instant (ISO 8601; no offset: TIME_ZONE).")
    due_before = InstantFilter(field_name="due_at", lookup_expr="lte", param="due_before",
                               help_text="Due at or before this instant (ISO 8601; no offset: TIME_ZONE).")

    class Meta:
        model = ScheduledTask
        fields = ("status", "action", "content_id", "key", "due_after", "due_before")


class Pages(PageNumberPagination):
    """100 a page; page_size asks for up to 500."""

    page_size, page_size_query_param, max_page_size = 100, "page_size", MAX_BATCH


TASK_OR_TASKS = PolymorphicProxySerializer(
    component_name="TaskOrTasks", serializers=[TaskSerializer, TaskSerializer(many=True)], resource_type_field_name=None, many=False)


class TaskList(generics.ListAPIView):
    """List tasks (filtered, paginated, upcoming first unless `ordering` says otherwise), or create some."""

    queryset = ScheduledTask.objects.all()
    serializer_class = TaskSerializer
    permission_classes = [TaskPermissions]
    pagination_class = Pages
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, OrderingFilter]
    filterset_class = TaskFilter
    ordering_fields = ["due_at", "updated_at", "created_at"]
    ordering = ["due_at"]

    @extend_schema(responses={200: TaskSerializer(many=True), **errors(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=PolymorphicProxySerializer(component_name="TaskCreate", resource_type_field_name=None,
                                           serializers=[TaskInputSerializer, TaskInputSerializer(many=True)], many=False),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="Makes a create without a key idempotent (in a list: key#index).")],
        responses={201: OpenApiResponse(TASK_OR_TASKS, description="Created (a list: at least one of them)"),
                   200: OpenApiResponse(TASK_OR_TASKS, description="All existed already, with these very fields"),
                   **errors(400, 401, 403, 409)})
    def post(self, request):
        """Create one task, or a list of up to 500, all or none; a known key returns its task."""
        data = request.data
        if isinstance(data, list) and not 1 <= len(data) <= MAX_BATCH:
            raise scheduling.Invalid({"non_field_errors": [f"a list holds 1 to {MAX_BATCH} tasks, not {len(data)}"]})
        key = request.headers.get("Idempotency-Key") or None
        result = scheduling.create_tasks(data if isinstance(data, list) else _object(data), user=request.user,
                                         idempotency_key=key)
        body = TaskSerializer(result.tasks, many=True).data if isinstance(data, list) else TaskSerializer(result.tasks[0]).data
        return Response(body, status=status.HTTP_201_CREATED if result.new else status.HTTP_200_OK)


class TaskDetail(APIView):
    """One task: read it, change it while it is pending (with a version check), or cancel it."""

    permission_classes = [TaskPermissions]
    queryset = ScheduledTask.objects.all()  # for the model permissions

    @extend_schema(responses={200: TaskSerializer, **errors(401, 403, 404)})
    def get(self, request, pk):
        task = generics.get_object_or_404(ScheduledTask, pk=pk)
        return Response(TaskSerializer(task).data, headers={"ETag": f'"{task.version}"'})

    @extend_schema(request=TaskPatchSerializer,
                   parameters=[OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                                description='The ETag of your last read, such as "3".')],
                   responses={200: TaskSerializer, **errors(400, 401, 403, 404, 409, 412, 428)})
    def patch(self, request, pk):
        """Change a pending task's due_at, action or payload; give `version` or If-Match from your last read."""
        changes = dict(_object(request.data))
        version, header = changes.pop("version", None), request.headers.get("If-Match")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise scheduling.Invalid({"version": ["must be a whole number: the version you read"]})
        if version is None and header is None:
            return Response({"detail": "Give the version you read (a `version` field or an If-Match header): "
                                       "without it two clients could overwrite each other."}, status=428)
        if header is not None and header.strip() != "*":  # "*": any version, said on purpose
            match = ETAG.match(header)
            if not match:
                raise scheduling.Invalid({"If-Match": ['must be the ETag of your last read, such as "3", or *']})
            if version is not None and version != int(match[1]):
                raise scheduling.Invalid({"version": ["differs from If-Match; give one of them"]})
            version = int(match[1])
        task = scheduling.change_task(pk, changes, version=version, user=request.user)
        return Response(TaskSerializer(task).data, headers={"ETag": f'"{task.version}"'})

    @extend_schema(responses={200: TaskSerializer, **errors(401, 403, 404, 409, 503)})
    def delete(self, request, pk):
        """Cancel a pending task (it never runs); a task the worker has started or finished is a 409."""
        return Response(TaskSerializer(scheduling.cancel_task(pk, user=request.user)).data)


class LicenceDetail(APIView):
    """A licence window: its publish and withdraw tasks, set together."""

    permission_classes = [TaskPermissions]
    queryset = ScheduledTask.objects.all()

    @extend_schema(responses={200: LicenceSerializer, **errors(400, 401, 403, 404)})
    def get(self, request, licence_id):
        publish, withdraw = scheduling.licence_tasks(licence_id)
        if publish is None and withdraw is None:
            return Response({"detail": "No task belongs to this licence."}, status=404)
        return Response(_licence(licence_id, publish, withdraw))

    @extend_schema(request=LicenceInputSerializer,
                   responses={201: LicenceSerializer, 200: LicenceSerializer, **errors(400, 401, 403)})
    def put(self, request, licence_id):
        """Set the whole window: create its tasks, move them, or cancel the withdraw when it no longer ends."""
        window = _object(request.data)
        fields = list(LicenceInputSerializer().fields)
        unknown = sorted(set(window) - set(fields))
        if unknown:
            raise scheduling.Invalid({name: [f"unknown field; a licence window has {', '.join(fields)}"]
                                      for name in unknown})
        if scheduling.window_cancels(licence_id, window) and not request.user.has_perm("tasks.cancel_task"):
            raise PermissionDenied("Without withdraw_at the licence never ends, which cancels its withdraw: "
                                   "that needs the cancel permission.")
        result = scheduling.set_licence(licence_id, window, user=request.user)
        changes = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                   "cancelled": result.cancelled, "left_as_is": result.kept_lines, "ended": bool(result.over),
                   # saved, but DynamoDB refused or could not be reached: reconcile retries (see sync_error)
                   "not_in_dynamodb": result.push_errors + result.cancel_errors + result.cancel_refused}
        body = {**_licence(licence_id, *scheduling.licence_tasks(licence_id)), "changes": changes}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


def _licence(licence_id, publish, withdraw):
    return {"licence_id": licence_id, "publish": TaskSerializer(publish).data if publish else None,
            "withdraw": TaskSerializer(withdraw).data if withdraw else None}


def _object(data):
    if not isinstance(data, dict):
        raise ParseError(f"The body must be a JSON object, not {scheduling.json_type(data)}.")
    return data
