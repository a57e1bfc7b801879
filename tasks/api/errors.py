"""One shape for every refusal: {"detail": ..., "errors": {field: [messages]}} (errors only for bad input)."""
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from tasks.api.serializers import TaskSerializer
from tasks.scheduling import Invalid, Refused


REFUSED_STATUS = {"missing": status.HTTP_404_NOT_FOUND, "state": status.HTTP_409_CONFLICT,
                  "stale": status.HTTP_409_CONFLICT, "unavailable": status.HTTP_503_SERVICE_UNAVAILABLE}


def handle(exc, context):
    """DRF's exception handler, extended: the services' Invalid is a 400, Refused a 404, 409 or 503 with the task.

    A stale version named by If-Match is a 412 (HTTP's precondition), by a `version` field a 409.
    """
    if isinstance(exc, Invalid):
        return Response({"detail": "Invalid input: " + str(exc), "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Refused):
        body = {"detail": str(exc)}
        if exc.task is not None:
            body["task"] = TaskSerializer(exc.task).data
        code = REFUSED_STATUS[exc.kind]
        if exc.kind == "stale" and context["request"].headers.get("If-Match"):
            code = status.HTTP_412_PRECONDITION_FAILED
        return Response(body, status=code)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"detail": "Invalid input.", "errors": {k: [str(m) for m in (v if isinstance(v, list) else [v])]
                                                                for k, v in errors.items()}}
    return response
