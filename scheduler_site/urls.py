"""URLs: the admin is the editors' whole interface."""
from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Slow scheduler"
admin.site.site_title = "Slow scheduler"
admin.site.index_title = "Scheduled publishing"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
