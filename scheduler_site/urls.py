"""URLs: the admin for editors, the JSON API for programs."""
from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, reverse_lazy
from django.views.defaults import page_not_found
from django.views.generic import RedirectView

admin.site.site_header = "Slow scheduler"
admin.site.site_title = "Slow scheduler"
admin.site.index_title = "Scheduled publishing"

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("api/", include("tasks.api.urls")),
    path("", RedirectView.as_view(url=reverse_lazy("admin:index"), permanent=False)),
]


def not_found(request, exception):
    """A 404 in the API's own shape (JSON) under /api/; the usual page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
