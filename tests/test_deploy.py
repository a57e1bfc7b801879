"""The deployment's configuration: Zappa stages, the Lambda's IAM policy, and no secret in a committed settings file."""
import ast
import json
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from worker.engine import SAFETY_MARGIN_SECONDS

pytestmark = pytest.mark.no_sql
ROOT = Path(__file__).resolve().parents[1]
ZAPPA = json.loads((ROOT / "zappa_settings.json").read_text())
STAGES = ("dev", "production")


def stage(name):
    """Return a stage's settings with `extends` applied, as Zappa reads them."""
    config = dict(ZAPPA[name])
    parent = config.pop("extends", None)
    return {**stage(parent), **config} if parent else config


SCHEMA_METHODS = {"ensure_table", "_describe", "_wait", "_create", "_ensure_recovery", "_ensure_ttl"}


def dynamodb_calls(schema):
    """Return the IAM action of every DynamoDB call the gateway makes, from its source: those of
    ensure_table (`schema`), or those of everything else (what the Lambda does at run time)."""
    calls = set()
    tree = ast.parse((ROOT / "tasks" / "store.py").read_text())
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef) or (function.name in SCHEMA_METHODS) != schema:
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "client":
                calls.add("DescribeTable" if node.func.attr == "get_waiter" else node.func.attr.title().replace("_", ""))
    return {f"dynamodb:{c}" for c in calls}


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_ticks_every_minute_and_reconciles_and_keep_warm_is_off(name):
    config = stage(name)
    assert {"function": "worker.handler.tick", "expression": "rate(1 minute)"} in config["events"]
    assert {"function": "worker.handler.reconcile", "expression": "rate(10 minutes)"} in config["events"]
    assert config["keep_warm"] is False and config["debug"] is False
    assert config["runtime"] == "python3.11" and config["memory_size"] >= 512


@pytest.mark.parametrize("name", STAGES)
def test_the_lambda_timeout_fits_the_tick_margin_and_the_lease_outlasts_it(name):
    timeout = stage(name)["timeout_seconds"]
    longest_run = 2 * settings.SCHEDULER_WEBHOOK_TIMEOUT_SECONDS + SAFETY_MARGIN_SECONDS
    # The tick stops handing out tasks when less than the longest run is left, so it needs room for several.
    assert timeout >= 4 * longest_run
    # A Lambda that times out mid-run must not have its tasks claimed again while it may still be sending.
    assert settings.SCHEDULER_LEASE_SECONDS > timeout


@pytest.mark.parametrize("name", STAGES)
def test_the_package_leaves_out_dev_files_and_what_lambda_provides(name):
    exclude = set(stage(name)["exclude"])
    assert {"tests", "bench", "docs", ".ci", ".venv*", "*.sqlite3", ".env", "requirements-dev.txt"} <= exclude
    assert {"boto3", "botocore", "s3transfer"} <= exclude  # in the Lambda runtime already
    assert not exclude & {"tasks", "worker", "scheduler_site", "django", "zappa", "werkzeug", "requests", "psycopg"}


@pytest.mark.parametrize("name", STAGES)
def test_the_stage_environment_holds_no_secret(name):
    variables = stage(name)["environment_variables"]
    assert not [k for k in variables if re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|WEBHOOK_URL", k)]
    assert variables["SCHEDULER_TABLE"] == f"slow-scheduler-{name}"


@pytest.mark.parametrize("name", STAGES)
def test_the_lambdas_policy_allows_only_the_stage_table_its_index_and_the_calls_the_code_makes_at_run_time(name):
    config = stage(name)
    policy = json.loads((ROOT / config["attach_policy"]).read_text())
    table = f"arn:aws:dynamodb:{config['aws_region']}:*:table/{config['environment_variables']['SCHEDULER_TABLE']}"
    function = f"{config['project_name']}-{name}"
    dynamodb_actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and "*" not in "".join(statement["Action"])
        services = {a.split(":")[0] for a in statement["Action"]}
        if services == {"logs"}:
            assert all(r.startswith(f"arn:aws:logs:{config['aws_region']}:*:log-group:/aws/lambda/{function}")
                       for r in statement["Resource"])
            continue
        assert services == {"dynamodb"}
        dynamodb_actions |= set(statement["Action"])
        expected = [f"{table}/index/due"] if statement["Action"] == ["dynamodb:Query"] else [table]
        assert statement["Resource"] == expected, statement["Sid"]
    # Not CreateTable, UpdateTable, TTL or backups: the public app could otherwise turn recovery off.
    assert dynamodb_actions == dynamodb_calls(schema=False)


def test_the_operators_policy_for_ensure_table_allows_its_calls_on_the_stage_tables_only():
    (statement,) = json.loads((ROOT / "scheduler_site" / "iam" / "ensure-table.json").read_text())["Statement"]
    assert set(statement["Action"]) == dynamodb_calls(schema=True)
    assert "dynamodb:DeleteTable" not in statement["Action"]
    assert statement["Resource"] == [
        f"arn:aws:dynamodb:{stage(n)['aws_region']}:*:table/{stage(n)['environment_variables']['SCHEDULER_TABLE']}"
        for n in STAGES]


def test_the_call_lists_are_read_from_the_gateway():
    assert {"dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem"} <= dynamodb_calls(schema=False)
    assert {"dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTable"} <= dynamodb_calls(schema=True)
    assert not dynamodb_calls(schema=False) & dynamodb_calls(schema=True)


# --- No secret in a committed settings file -------------------------------------------------------
SECRET_PATTERNS = [
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"whsec_[A-Za-z0-9+/]{16,}"), "a webhook signing secret"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"://[^/\s:@]+:(?!password@|pw@|\*)[^/\s@]+@"), "a password in a URL"),
    # A quoted literal given to a secret-looking name (Python, JSON), or an unquoted one in a .env file.
    (re.compile(r"""(?i)\w*(SECRET|PASSWORD|TOKEN|PRIVATE_KEY|ACCESS_KEY)\w*["']?\s*[:=]\s*["']"""
                r"""(?!insecure|tests-only)[^"'\s]{8,}["']"""), "a value given to a secret-looking name"),
    (re.compile(r"(?i)^\s*\w*(SECRET|PASSWORD|TOKEN|PRIVATE_KEY|ACCESS_KEY)\w*=[^\s\"']{8,}"),
     "a value given to a secret-looking name"),
]


def secrets_in(text):
    """Return (line number, what) for every secret-looking value in a settings file's text."""
    return [(number, what) for number, line in enumerate(text.splitlines(), 1)
            for pattern, what in SECRET_PATTERNS if pattern.search(line)]


def settings_files():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    wanted = re.compile(r"^(zappa_settings\.json|\.env[^/]*|scheduler_site/.*\.(py|json)|[^/]+\.(json|toml|ini|cfg|ya?ml))$")
    return [ROOT / f for f in listed if wanted.match(f)]


def test_no_committed_settings_file_holds_a_secret():
    files = settings_files()
    assert {ROOT / "zappa_settings.json", ROOT / "scheduler_site" / "settings.py", ROOT / ".env.example"} <= set(files)
    found = {str(f.relative_to(ROOT)): secrets_in(f.read_text()) for f in files}
    assert {f: s for f, s in found.items() if s} == {}


@pytest.mark.parametrize("line", [
    '"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"',
    "SCHEDULER_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "DATABASE_URL=postgres://scheduler:s3cr3t-pw@db.internal:5432/scheduler",
    'SECRET_KEY = "k7#n2(x!v0q9m@l4p8z%w1r6t3y5u&j"',
    '"DJANGO_SECRET_KEY": "k7n2xv0q9ml4p8zw1r6t3y5uj"',
    "-----BEGIN RSA PRIVATE KEY-----",
])
def test_the_scan_finds_a_committed_secret(line):
    assert secrets_in(line)


@pytest.mark.parametrize("line", [
    "DJANGO_SECRET_KEY=", "SCHEDULER_WEBHOOK_SECRET=", "# Production: postgres://user:password@host:5432/name",
    'SECRET_KEY = "insecure-local-key-never-used-on-lambda"', 'SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")',
])
def test_the_scan_lets_placeholders_pass(line):
    assert secrets_in(line) == []
