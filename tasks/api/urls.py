"""The API's URLs, under /api/: v1 of the tasks and licences, the OpenAPI schema and its docs page."""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tasks.api import views

urlpatterns = [
    path("v1/tasks/", views.TaskList.as_view(), name="api-tasks"),
    path("v1/tasks/<uuid:pk>/", views.TaskDetail.as_view(), name="api-task"),
    path("v1/licences/<str:licence_id>/", views.LicenceDetail.as_view(), name="api-licence"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
