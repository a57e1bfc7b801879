"""Who may do what through the API: the model's own permissions, and cancel_task for a DELETE."""
from rest_framework.permissions import DjangoModelPermissions


class TaskPermissions(DjangoModelPermissions):
    """view to read, add to create, change to change, cancel_task to cancel (a DELETE never deletes)."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.add_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.cancel_task"],
    }
