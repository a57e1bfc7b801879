"""Settings as production reads them: `check --deploy` clean on Lambda, secrets required, the admin's path."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_sql
ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = json.loads((ROOT / "zappa_settings.json").read_text())["production"]["environment_variables"]
STRONG_KEY = "tests-only-" + "x7Kp2mQ9vLr4Tz8wYb3Nc6Hd1Fg5Js0Ua" * 2


def manage(*args, **env):
    """Run manage.py in a clean environment (the variables given, and no developer's .env)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SCHEDULER_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**base, **env})


def on_lambda(tmp_path, **overrides):
    """The environment of the production Lambda: the stage's variables plus the operator's secrets."""
    return {**PRODUCTION, "AWS_LAMBDA_FUNCTION_NAME": "slow-scheduler-production", "DJANGO_SECRET_KEY": STRONG_KEY,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **overrides}


def test_production_settings_pass_check_deploy_without_a_warning(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **on_lambda(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_local_settings_are_flagged_by_check_deploy(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="true")
    assert result.returncode == 1
    for warning in ("security.W004", "security.W008", "security.W009", "security.W012", "security.W016", "security.W018"):
        assert warning in result.stderr


@pytest.mark.parametrize("missing, message", [
    ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY is required on Lambda"),
    ("DATABASE_URL", "DATABASE_URL is required on Lambda"),
])
def test_lambda_refuses_to_start_without_its_secrets(tmp_path, missing, message):
    env = on_lambda(tmp_path)
    del env[missing]
    result = manage("check", **env)
    assert result.returncode == 1 and message in result.stderr


def test_the_admin_path_is_a_setting(tmp_path):
    code = ("from django.test import Client; c = Client(); "
            "print(c.get('/backstage/login/').status_code, c.get('/admin/login/').status_code, c.get('/')['Location'])")
    result = manage("shell", "-v", "0", "-c", code, DJANGO_ADMIN_PATH="/backstage/", DJANGO_ALLOWED_HOSTS="testserver")
    assert result.stdout.split() == ["200", "404", "/backstage/"], result.stderr
