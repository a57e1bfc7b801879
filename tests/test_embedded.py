import threading
import uuid
from datetime import datetime, timezone

import pytest

from tasks.store import TaskStore
from worker.embedded import ensure_admin
from worker.local_dynamodb import LocalDynamoDB

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.moto_server
def test_the_local_dynamodb_lets_exactly_one_of_many_simultaneous_claims_win(store):
    task_ids = [str(uuid.uuid4()) for _ in range(20)]
    store.batch_put_new([{"id": t, "action": "publish", "content_id": "c", "payload": {}, "due_at": NOW, "version": 1}
                   for t in task_ids])
    wins, start = [], threading.Barrier(12)

    def claimer():
        mine = TaskStore(table=store.table, endpoint_url=store.endpoint_url)  # a client of its own, as a process has
        start.wait()
        wins.extend(t for t in task_ids if mine.claim(t, NOW, 300))

    threads = [threading.Thread(target=claimer) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == sorted(task_ids)


def test_a_taken_port_is_refused_at_once():
    first = LocalDynamoDB().start()
    try:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            LocalDynamoDB(port)
    finally:
        first.stop()


def test_ensure_admin_generates_a_password_once_and_keeps_a_given_one(db, django_user_model):
    generated = ensure_admin("admin")
    assert generated and django_user_model.objects.get(username="admin").check_password(generated)
    assert ensure_admin("admin") is None  # a second start keeps the password
    assert ensure_admin("admin", "a-chosen-password") is None
    assert django_user_model.objects.get(username="admin").check_password("a-chosen-password")
