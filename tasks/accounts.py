"""Service accounts for the API: a user that cannot log in to the admin, with the task permissions given, and its token."""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

PERMISSIONS = {"view": "view_scheduledtask", "add": "add_scheduledtask", "change": "change_scheduledtask",
               "cancel": "cancel_task", "run": "run_task"}


def service_account(username, permissions, *, new_token=False):
    """Create or update the service account `username` with exactly `permissions` (names of PERMISSIONS); return its token.

    Raise ValueError for an unknown permission name, or a `username` that belongs to a person (one who can
    log in). `new_token` replaces an existing token (rotation).
    """
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise ValueError(f"unknown permission(s) {', '.join(unknown)}; choose from {', '.join(PERMISSIONS)}")
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=username)
        if not created and (user.is_staff or user.has_usable_password()):
            raise ValueError(f"{username} is a person's account (it can log in); give the service account another name")
        user.is_staff = user.is_superuser = False  # the API only: never the admin
        user.set_unusable_password()
        user.save()
        user.user_permissions.set(Permission.objects.filter(
            content_type__app_label="tasks", codename__in=[PERMISSIONS[p] for p in permissions]))
        if new_token:
            Token.objects.filter(user=user).delete()
        token, _created = Token.objects.get_or_create(user=user)
    return token.key
