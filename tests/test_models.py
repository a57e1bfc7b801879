from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tasks.models import ScheduledTask, validate_action, validate_payload


def test_an_unknown_action_names_the_valid_ones():
    with pytest.raises(ValidationError) as refused:
        validate_action("archive")
    assert refused.value.messages == ["Unknown action 'archive'; valid actions: publish, withdraw."]


@pytest.mark.parametrize("payload", [[1], "text", {"score": float("nan")}, {"x": float("inf")}])
def test_a_payload_must_be_a_json_object_without_nan(payload):
    with pytest.raises(ValidationError):
        validate_payload(payload)


def test_live_and_due(make_task):
    now = timezone.now()
    due = make_task(due_at=now - timedelta(minutes=1))
    later = make_task(due_at=now + timedelta(minutes=1))
    done = make_task(due_at=now - timedelta(minutes=2))
    ScheduledTask.objects.filter(pk=done.pk).update(status="done")
    assert set(ScheduledTask.objects.live()) == {due, later}
    assert list(ScheduledTask.objects.due(now)) == [due]


def test_a_change_takes_the_next_version_after_the_committed_one(make_task):
    task = make_task()
    stale = ScheduledTask.objects.get(pk=task.pk)
    ScheduledTask.objects.filter(pk=task.pk).update(version=5)  # another editor saved meanwhile
    stale.record_change(current_version=ScheduledTask.objects.current_version(task.pk))
    assert stale.version == 6 and stale.sync_state == "pending"


@pytest.mark.parametrize("payload, message", [
    ({"note": "a\x00b"}, "contains a NUL character"),
    ({"k\ud800": 1}, "contains an unpaired surrogate"),
    ({"n": float("nan")}, "contains NaN or Infinity"),
])
def test_a_payload_the_databases_cannot_store_is_refused_by_the_models_validator(payload, message):
    with pytest.raises(ValidationError, match=message):
        validate_payload(payload)
