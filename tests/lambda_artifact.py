"""Run a Lambda package as Lambda would: unzipped, under a clean interpreter, with only the runtime's boto3 beside it.

Used by tests/test_package.py and bench/artifact.py. `make package` builds the zip.
"""
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the python3.11 Lambda runtime puts on the path itself (so Zappa's package leaves them out).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil")

# The driver runs in the clean interpreter: the package first on the path, then the runtime's boto3,
# as on Lambda (/var/task, then the runtime's own folder); it prints one JSON line of what happened.
DRIVER = r"""
import json, sys, time
started = time.perf_counter()
sys.path[:0] = [sys.argv[1], sys.argv[2]]

class Context:
    aws_request_id, function_name, memory_limit_in_mb = "local-try", "slow-scheduler", "512"
    def get_remaining_time_in_millis(self):
        return 110_000

import handler
if sys.argv[3] == "setup":
    handler.LambdaHandler()  # reads the package's settings and sets Django up, as a cold start does
    import django.apps
    assert django.apps.apps.ready
    print(json.dumps({"seconds": time.perf_counter() - started}))
else:
    result = handler.lambda_handler(json.loads(sys.argv[3]), Context())
    print(json.dumps({"result": result}, default=str))
"""


def build(stage="production"):
    """Build the package with `make package` and return its path."""
    package = ROOT / f"slow-scheduler-{stage}.zip"
    subprocess.run(["make", "package", f"STAGE={stage}", f"PACKAGE={package.name}"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return package


def unpack(package, into):
    """Unzip the package into `into`/task and put the runtime's packages into `into`/runtime; return both."""
    task, runtime = Path(into) / "task", Path(into) / "runtime"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(task)
    site_packages = Path(sysconfig.get_paths()["purelib"])
    for name in RUNTIME_PACKAGES:
        # With their bytecode, as the runtime ships them (copytree keeps the times the .pyc files check).
        shutil.copytree(site_packages / name, runtime / name)
    return task, runtime


def lambda_environment(**variables):
    """Return a bare environment, as Lambda gives one: no virtualenv, no PYTHONPATH, only what is named."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_LAMBDA_FUNCTION_NAME": "slow-scheduler-production",
            "LAMBDA_TASK_ROOT": "/var/task", "AWS_REGION": "eu-west-1", **variables}


def invoke(task, runtime, event, env, timeout=120):
    """Run the package's handler.lambda_handler(event) in a clean interpreter; return (its result, the run)."""
    run = _run(task, runtime, json.dumps(event), env, timeout)
    return json.loads(run.stdout.strip().splitlines()[-1])["result"], run


def setup_seconds(task, runtime, env):
    """Return how long importing the handler and setting Django up takes in a fresh clean interpreter."""
    run = _run(task, runtime, "setup", env, 60)
    return json.loads(run.stdout.strip().splitlines()[-1])["seconds"]


def _run(task, runtime, argument, env, timeout):
    # -I: no user site, no PYTHON* variables; -S: no site-packages at all; -B: /var/task is read-only on Lambda.
    run = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", DRIVER, str(task), str(runtime), argument],
                         cwd=task, env=env, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"the package's handler failed ({run.returncode}):\n{run.stderr[-4000:]}")
    return run


def tree_bytes(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())

