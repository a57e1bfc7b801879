"""URLs: the admin for editors, the JSON API for programs."""
from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, reverse_lazy
from django.views import defaults
from django.views.generic import RedirectView

admin.site.site_header = "Slow scheduler"
admin.site.site_title = "Slow scheduler"
admin.site.index_title = "Scheduled publishing"

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("api/", include("tasks.api.urls")),
    path("", RedirectView.as_view(url=reverse_lazy("admin:index"), permanent=False)),
]


def _api(request):
    return request.path_info.startswith("/api/")


def bad_request(request, exception):
    """A 400 Django itself answers (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, say): JSON under /api/."""
    if _api(request):
        return JsonResponse({"detail": f"Bad request: {exception}"}, status=400)
    return defaults.bad_request(request, exception)


def not_found(request, exception):
    """A 404 in the API's own shape (JSON) under /api/; the usual page elsewhere."""
    if _api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _api(request):
        return JsonResponse({"detail": "Server error; it has been logged."}, status=500)
    return defaults.server_error(request)


handler400, handler404, handler500 = bad_request, not_found, server_error
