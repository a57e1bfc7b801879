"""The Lambda package: zip and unzipped sizes, and the time a cold start takes to import the handler and set Django up.

    .venv/bin/python bench/artifact.py [--zip slow-scheduler-production.zip] [--runs 7]

Without --zip it builds the package first (`make package`). Goals: zip <= 15 MiB, unzipped <= 60 MB,
import and set-up <= 1.5 s, each run in a fresh clean interpreter that writes no bytecode, as on Lambda.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import lambda_artifact  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, help="a package made by `make package` (default: build one now)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    package = args.zip or lambda_artifact.build("production")
    with tempfile.TemporaryDirectory() as work:
        task, runtime = lambda_artifact.unpack(package, work)
        env = lambda_artifact.lambda_environment(DJANGO_SECRET_KEY="bench-" + "k" * 60,
                                                 DATABASE_URL=f"sqlite:///{work}/db.sqlite3")
        inside, whole = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            inside.append(lambda_artifact.setup_seconds(task, runtime, env))
            whole.append(time.perf_counter() - started)
        unzipped = lambda_artifact.tree_bytes(task)
    zipped = package.stat().st_size
    print(f"package {package.name}")
    print(f"zip size       {zipped / 2**20:6.1f} MiB   (goal <= 15 MiB)")
    print(f"unzipped size  {unzipped / 1e6:6.1f} MB    (goal <= 60 MB)")
    print(f"import handler + Django set-up: median {statistics.median(inside):.2f} s, "
          f"max {max(inside):.2f} s over {args.runs} cold interpreters (goal <= 1.5 s)")
    print(f"whole cold process (interpreter start included): median {statistics.median(whole):.2f} s")


if __name__ == "__main__":
    main()
