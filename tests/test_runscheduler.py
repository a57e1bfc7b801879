"""`make run`'s command end to end: a real process, its embedded DynamoDB, the admin over HTTP, the tick."""
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from tasks.store import TaskStore
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a-long-editor-password"


class Scheduler:
    """`manage.py runscheduler` in its own process, on its own SQLite file and port."""

    def __init__(self, tmp_path):
        self.port, self.log = free_port(), tmp_path / f"run-{time.monotonic_ns()}.log"
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DJANGO_", "SCHEDULER_"))}
        env.update({
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DJANGO_DEBUG": "true",
            "DJANGO_SUPERUSER_USERNAME": "editor", "DJANGO_SUPERUSER_PASSWORD": PASSWORD, "TIME_ZONE": "UTC",
            "EMBEDDED_DYNAMODB_PORT": "0",
        })
        env.pop("AWS_ACCESS_KEY_ID", None), env.pop("AWS_SECRET_ACCESS_KEY", None)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runscheduler", f"127.0.0.1:{self.port}", "--tick-seconds", "1"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.wait_for_admin()

    def output(self):
        return self.log.read_text()

    def wait_for_admin(self, seconds=90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"runscheduler exited:\n{self.output()}"
            try:
                if requests.get(f"{self.url}/admin/login/", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the admin never answered:\n{self.output()}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def embedded_store(run):
    """The gateway pointed at the process's embedded DynamoDB, whose address its banner prints."""
    url = re.search(r"embedded at (http://127\.0\.0\.1:\d+)", run.output()).group(1)
    return TaskStore(table="scheduled-tasks", endpoint_url=url)


def task_id_in(row):
    return re.search(r'name="_selected_action" value="([0-9a-f-]+)"', row).group(1)


def logged_in(url):
    session = requests.Session()
    session.get(f"{url}/admin/login/", timeout=5)
    response = session.post(f"{url}/admin/login/?next=/admin/", timeout=5, data={
        "username": "editor", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert response.url.endswith("/admin/"), "login failed"
    return session


def add_task(session, url, content_id, due_at):
    session.get(f"{url}/admin/tasks/scheduledtask/add/", timeout=5)
    response = session.post(f"{url}/admin/tasks/scheduledtask/add/", timeout=10, data={
        "csrfmiddlewaretoken": session.cookies["csrftoken"], "content_id": content_id, "action": "publish",
        "due_at_0": due_at.strftime("%Y-%m-%d"), "due_at_1": due_at.strftime("%H:%M:%S"),
        "payload": "{}", "key": "",
    })
    assert response.status_code == 200 and "was added successfully" in response.text, response.text[-3000:]


def row_of(session, url, content_id):
    page = session.get(f"{url}/admin/tasks/scheduledtask/?q={content_id}", timeout=5).text
    rows = [row.split("</tr>")[0] for row in page.split("<tr") if f">{content_id}<" in row.split("</tr>")[0]]
    return rows[0] if rows else ""


@pytest.fixture
def scheduler(tmp_path):
    started = []

    def start():
        started.append(Scheduler(tmp_path))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def test_an_editors_task_is_performed_by_the_embedded_worker(scheduler):
    run = scheduler()
    assert "Slow scheduler is running." in run.output()
    assert "Import:    DYNAMODB_ENDPOINT_URL=http://127.0.0.1:" in run.output()
    session = logged_in(run.url)
    add_task(session, run.url, "film-e2e", datetime.now(timezone.utc) + timedelta(seconds=2))
    assert '<td class="field-sync_state">Synced</td>' in row_of(session, run.url, "film-e2e")
    deadline = time.monotonic() + 30
    while 'font-weight: bold">Done</span>' not in row_of(session, run.url, "film-e2e"):
        assert time.monotonic() < deadline, f"the task never ran:\n{run.output()}"
        time.sleep(0.5)
    item = embedded_store(run).get(task_id_in(row_of(session, run.url, "film-e2e")))
    assert item["status"] == "done" and "nothing was sent" in item["outcome"]


def test_a_restart_refills_the_empty_embedded_dynamodb_from_the_database(scheduler):
    first = scheduler()
    add_task(logged_in(first.url), first.url, "film-later", datetime.now(timezone.utc) + timedelta(days=3))
    first.stop()
    second = scheduler()
    assert "1 live task(s) pushed" in second.output()
    (due,) = embedded_store(second).query_due(datetime.now(timezone.utc) + timedelta(days=4)).tasks
    assert due[1] == task_id_in(row_of(logged_in(second.url), second.url, "film-later"))
