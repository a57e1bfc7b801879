"""One shape for every refusal: {"detail": ..., "errors": {field: [messages]}} (errors only for bad input)."""
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from tasks.api.serializers import TaskSerializer
from tasks.scheduling import Invalid, Refused


def handle(exc, context):
    """DRF's exception handler, extended: the services' Invalid is a 400, Refused a 404, 409 or 503 with the task."""
    if isinstance(exc, Invalid):
        return Response({"detail": "Invalid input: " + str(exc), "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Refused):
        body = {"detail": str(exc)}
        if exc.task is not None:
            body["task"] = TaskSerializer(exc.task).data
        return Response(body, status=exc.status)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"detail": "Invalid input.", "errors": {k: [str(m) for m in (v if isinstance(v, list) else [v])]
                                                                for k, v in errors.items()}}
    return response
