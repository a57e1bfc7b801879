"""The very zip `zappa deploy` would upload, run as Lambda runs it: a scheduled tick performs a due task.

Builds the package with `make package` unless SCHEDULER_PACKAGE names one (as .ci/run does).
"""
import base64
import os
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tasks.store import TaskStore
from tests import lambda_artifact
from tests.test_handler import scheduled_event

pytestmark = [pytest.mark.no_sql, pytest.mark.moto_server]
SECRET_KEY = "tests-only-" + "Qm7vR2xK9pL4wT8zB3nC6hD1fG5jS0uA" * 2


@pytest.fixture(scope="module")
def package():
    given = os.environ.get("SCHEDULER_PACKAGE")
    return Path(given) if given else lambda_artifact.build("production")


@pytest.fixture
def lambda_run(package, tmp_path, moto_server):
    """Invoke the unzipped package's handler against moto's server and a fresh SQLite database."""
    task, runtime = lambda_artifact.unpack(package, tmp_path)
    env = lambda_artifact.lambda_environment(
        DJANGO_SECRET_KEY=SECRET_KEY, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DYNAMODB_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")

    def invoke(event):
        return lambda_artifact.invoke(task, runtime, event, env)

    invoke.database, invoke.endpoint = tmp_path / "db.sqlite3", moto_server
    return invoke


def test_the_package_leaves_out_tests_and_dev_tools_and_what_lambda_provides(package):
    import zipfile

    names = zipfile.ZipFile(package).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"handler.py", "zappa_settings.py", "tasks", "worker", "scheduler_site", "django"} <= tops
    assert not tops & {"tests", "bench", "docs", ".ci", "moto", "pytest", "_pytest", "boto3", "botocore", "playwright"}
    assert not [n for n in names if "__pycache__" in n or n.endswith((".sqlite3", ".po"))]


def test_a_scheduled_event_makes_the_package_perform_a_due_task(lambda_run, tmp_path):
    lambda_run({"manage": "migrate"})
    _result, run = lambda_run({"manage": "ensure_table"})
    assert "created table" in run.stdout and "deletion protection on" in run.stdout
    due = tmp_path / "due.csv"
    due.write_text(f"content_id,action,due_at\nfilm-1,publish,{(timezone.now() - timedelta(minutes=1)).isoformat()}\n")
    _result, run = lambda_run({"manage": f"import_tasks {due}"})
    assert "1 created" in run.stdout and "1 pushed to DynamoDB" in run.stdout

    summary, _run = lambda_run(scheduled_event("worker.handler.tick", stage="production"))
    assert summary["claimed"] == 1 and summary["done"] == 1

    (task_id, status), = sqlite3.connect(lambda_run.database).execute("SELECT id, status FROM tasks_scheduledtask")
    assert status == "done"
    # The package's own settings name the table (SCHEDULER_TABLE of the stage); the other tests use random names.
    table = TaskStore(table="slow-scheduler-production", endpoint_url=lambda_run.endpoint)
    assert table.get(uuid.UUID(task_id))["status"] == "done"
    counts, _run = lambda_run(scheduled_event("worker.handler.reconcile", stage="production"))
    assert counts == {"pushed": 0, "pulled": 0, "cancelled": 0, "deleted": 0, "errors": 0}


def test_the_package_passes_check_deploy(lambda_run):
    _result, run = lambda_run({"manage": "check --deploy --fail-level WARNING"})
    assert "System check identified no issues (0 silenced)." in run.stdout + run.stderr


def api_gateway_request(path, method="GET", body=None, **headers):
    """An API Gateway (REST, v1) request as Lambda hands it over, for the default execute-api host."""
    return {"httpMethod": method, "path": path, "queryStringParameters": None, "body": body, "isBase64Encoded": False,
            "headers": {"Host": "abc123defg.execute-api.eu-west-1.amazonaws.com", "X-Forwarded-Proto": "https",
                        "X-Forwarded-For": "203.0.113.9", "Accept": "text/html", **headers},
            "requestContext": {"stage": "production", "identity": {"sourceIp": "203.0.113.9"}}}


def test_the_package_serves_the_admin_and_its_styles_under_the_stage_prefix(lambda_run):
    # API Gateway serves HTTPS only, and Zappa marks every request secure: HSTS and secure cookies follow.
    lambda_run({"manage": "migrate"})
    page, _run = lambda_run(api_gateway_request("/admin/login/"))
    assert page["statusCode"] == 200 and "Slow scheduler" in page["body"]
    assert "Strict-Transport-Security" in page["headers"] and "Secure" in page["headers"]["Set-Cookie"]
    assert "/production/static/admin/css/base.css" in page["body"]  # the stage's path prefix is kept
    css, _run = lambda_run(api_gateway_request("/static/admin/css/base.css"))
    assert css["statusCode"] == 200 and css["headers"]["Content-Type"].startswith("text/css")


def test_the_package_serves_the_api_and_its_schema(lambda_run):
    lambda_run({"manage": "migrate"})
    lambda_run({"manage": "ensure_table"})
    lambda_run({"manage": "createsuperuser --noinput --username cms --email cms@example.com"})
    _result, run = lambda_run({"manage": "drf_create_token cms"})
    token = run.stdout.split("Generated token ")[1].split()[0]
    body = '{"content_id": "film-7", "action": "publish", "due_at": "2030-01-01T09:00:00Z", "key": "cms-7"}'
    created, _run = lambda_run(api_gateway_request("/api/v1/tasks/", "POST", body, Authorization=f"Token {token}",
                                                   **{"Content-Type": "application/json", "Accept": "application/json"}))
    assert created["statusCode"] == 201 and '"sync_state":"synced"' in created["body"]
    schema, _run = lambda_run(api_gateway_request("/api/schema/", Accept="application/vnd.oai.openapi"))
    # Zappa sends a body whose type is not text as base64, and API Gateway (binary support on) decodes it.
    assert schema["statusCode"] == 200 and schema["isBase64Encoded"]
    assert "/api/v1/tasks/" in base64.b64decode(schema["body"]).decode()
    anonymous, _run = lambda_run(api_gateway_request("/api/v1/tasks/", Accept="application/json"))
    assert anonymous["statusCode"] == 401
