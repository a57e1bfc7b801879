"""URLs: the admin is the editors' whole interface."""
from django.conf import settings
from django.contrib import admin
from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

admin.site.site_header = "Slow scheduler"
admin.site.site_title = "Slow scheduler"
admin.site.index_title = "Scheduled publishing"

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("", RedirectView.as_view(url=reverse_lazy("admin:index"), permanent=False)),
]
