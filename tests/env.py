"""Loaded by pytest before Django (see pyproject.toml): the environment every test starts from."""
import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
os.environ["DJANGO_DEBUG"] = "false"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"
for name in ("DYNAMODB_ENDPOINT_URL", "SCHEDULER_WEBHOOK_URL", "SCHEDULER_WEBHOOK_SECRET"):
    os.environ.pop(name, None)  # a developer's own settings must not leak into the suite
