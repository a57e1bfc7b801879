"""Shared fixtures: a DynamoDB table per test (moto in process, or moto's server over HTTP), tasks, a receiver."""
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone
from moto import mock_aws

from tasks import store as store_module
from tasks.models import ScheduledTask

# Copies of ../shared/data (the team's sample inputs), so that a clone alone runs the suite;
# test_sample_data.py checks that they still match wherever ../shared is beside the clone.
ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """The local DynamoDB (moto's server, as `make run` embeds it) in a process of its own; yields its URL."""
    server = subprocess.Popen([sys.executable, "-m", "worker.local_dynamodb"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    yield server.stdout.readline().strip()
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(autouse=True)
def store(request, settings):
    """A fresh scheduler table for each test: in-process moto, or moto's server for `moto_server` tests."""
    settings.SCHEDULER_TABLE = f"tasks-{uuid.uuid4().hex[:12]}"
    store_module._stores.clear()
    if request.node.get_closest_marker("moto_server"):
        settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = request.getfixturevalue("moto_server")
        table = store_module.get_store()
        table.ensure_table()
        yield table
        store_module._stores.clear()
        return
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = None
    with mock_aws():
        table = store_module.get_store()
        table.ensure_table()
        yield table
    store_module._stores.clear()


def ttl_on_another_attribute(store, attribute="ttl"):
    """Give the table a TTL on another attribute than the scheduler's, as someone's earlier setup might have."""
    for enabled, name in ((False, "expires_at"), (True, attribute)):
        store.client.update_time_to_live(TableName=store.table,
                                         TimeToLiveSpecification={"Enabled": enabled, "AttributeName": name})


@pytest.fixture
def make_task(db, django_capture_on_commit_callbacks):
    """Create a task through the real commit path (the save hook pushes it); overrides set fields."""

    def make(**overrides):
        fields = {
            "content_id": f"film-{uuid.uuid4().hex[:6]}", "action": "publish",
            "due_at": timezone.now() + timedelta(days=30), "payload": {"territory": "GB"},
        }
        fields.update(overrides)
        with django_capture_on_commit_callbacks(execute=True):
            task = ScheduledTask.objects.create(**fields)
        task.refresh_from_db()
        return task

    return make


class Receiver:
    """A webhook receiver on 127.0.0.1 that records each request and answers from a script of replies."""

    def __init__(self):
        self.requests, self.replies, self.delay = [], [], 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers.items()), "body": body, "at": time.time()})
                    status, text, *headers = receiver.replies.pop(0) if receiver.replies else (200, "ok")
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/scheduler"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self):
        return [json.loads(r["body"]) for r in self.requests]

    def keys(self):
        return [r["headers"]["webhook-id"] for r in self.requests]


@pytest.fixture
def receiver(settings):
    """A live receiver; the scheduler's webhook settings point at it."""
    hook = Receiver()
    settings.SCHEDULER_WEBHOOK_URL = hook.url
    settings.SCHEDULER_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield hook
    hook.server.shutdown()
