"""Wiring only: after a commit, push a saved task to DynamoDB or delete a deleted one's item."""
from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from tasks import sync
from tasks.models import ScheduledTask


def _saved(sender, instance, raw=False, **kwargs):
    if raw:  # fixture loads write rows as they are; reconcile pushes them
        return
    transaction.on_commit(partial(sync.push_task, instance.pk), robust=True)


def _deleted(sender, instance, **kwargs):
    transaction.on_commit(partial(sync.delete_task, instance.pk), robust=True)


def connect():
    post_save.connect(_saved, sender=ScheduledTask, dispatch_uid="tasks.push_on_save")
    post_delete.connect(_deleted, sender=ScheduledTask, dispatch_uid="tasks.delete_on_delete")
