"""import_tasks of a generated tasks CSV into SQLite and DynamoDB: seconds, peak memory, and against saving row by row.

    .venv/bin/python bench/import_tasks.py [--rows 100000] [--also 1000000] [--sample 1000] [--dynamodb dynalite|local]

Each import runs as `manage.py import_tasks FILE` in a child process of its own (on a terminal-less
stdout: the one-line summary), on a fresh SQLite file and a fresh table; its peak memory is the child's
maximum resident set size. DynamoDB runs in another process: dynalite by default (an emulator on
LevelDB, kept on disk; installed under bench/.node on first use), or with `--dynamodb local` the
project's local DynamoDB (moto's server, one request at a time: about 17 ms a 25-item batch here, so
100,000 rows spend 70 s in it alone). The row by row figure saves `--sample` rows one at a time through
the model (the save hook pushes each after its commit) in this process, against the same DynamoDB, and
is scaled to the file's rows.
Goals: 100,000 rows in <= 60 s, >= 10x faster than row by row, peak <= 300 MB; 1,000,000 rows within
20% of the 100,000-row peak.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dynalite import start_dynalite

ROOT = Path(__file__).resolve().parents[1]


def write_csv(path, rows):
    start, rng = datetime(2027, 1, 1, tzinfo=timezone.utc), random.Random(rows)
    with open(path, "w") as out:
        out.write("content_id,action,due_at,payload\n")
        for n in range(rows):
            due = start + timedelta(minutes=rng.randrange(0, 3 * 365 * 24 * 60))
            out.write(f'film-{n:07d},{"publish" if n % 2 else "withdraw"},{due:%Y-%m-%dT%H:%M:00Z},'
                      f'"{{""territory"": ""GB"", ""row"": {n}}}"\n')


def child_env(workdir, endpoint):
    return {**os.environ, "DATABASE_URL": f"sqlite:///{workdir}/bench-{uuid.uuid4().hex[:8]}.sqlite3",
            "DYNAMODB_ENDPOINT_URL": endpoint, "SCHEDULER_TABLE": f"bench-{uuid.uuid4().hex[:8]}",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "LOG_LEVEL": "ERROR"}


def manage(env, *args):
    """Run manage.py in a child; return (seconds, peak RSS in MB, output)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"manage.py {' '.join(args)} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output.strip()


def import_once(rows, workdir, endpoint):
    path = Path(workdir) / f"tasks-{rows}.csv"
    write_csv(path, rows)
    env = child_env(workdir, endpoint)
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "ensure_table")
    seconds, peak, output = manage(env, "import_tasks", "--verbosity", "2", str(path))
    summary, phases = output.splitlines()[-2:]
    print(f"{rows:>9,} rows: {seconds:6.1f} s, {rows / seconds:7.0f} rows/s, peak {peak:5.0f} MB  | {summary} | {phases}")
    return seconds, peak, env


def row_by_row(sample, env):
    """Save `sample` tasks one by one through the model (each commit pushes its item); return seconds per row."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
    import django

    django.setup()
    from tasks.models import ScheduledTask

    start = datetime(2027, 1, 1, tzinfo=timezone.utc)
    started = time.perf_counter()
    for n in range(sample):
        ScheduledTask.objects.create(content_id=f"single-{n}", action="publish", due_at=start + timedelta(minutes=n),
                                     payload={"territory": "GB", "row": n})
    per_row = (time.perf_counter() - started) / sample
    assert ScheduledTask.objects.filter(content_id__startswith="single-", sync_state="synced").count() == sample
    return per_row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--also", type=int, nargs="*", default=[], help="more file sizes, for the memory comparison")
    parser.add_argument("--sample", type=int, default=1000, help="rows saved one by one for the comparison")
    parser.add_argument("--dynamodb", choices=("dynalite", "local"), default="dynalite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        if args.dynamodb == "dynalite":
            dynamodb, endpoint = start_dynalite(Path(workdir) / "dynalite")
        else:
            dynamodb = subprocess.Popen([sys.executable, "-m", "worker.local_dynamodb"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
            endpoint = dynamodb.stdout.readline().strip()
        try:
            seconds, peak, env = import_once(args.rows, workdir, endpoint)
            per_row = row_by_row(args.sample, env)
            print(f"row by row ({args.sample} saved through the model): {per_row * 1000:.1f} ms a row, "
                  f"{per_row * args.rows:.0f} s for {args.rows:,} rows; the import is {per_row * args.rows / seconds:.1f}x faster")
            for rows in args.also:
                _, other_peak, _ = import_once(rows, workdir, endpoint)
                print(f"peak at {rows:,} rows is {other_peak / peak:.2f}x the peak at {args.rows:,} rows")
        finally:
            dynamodb.terminate()
    print("goals: 100,000 rows <= 60 s and >= 10x row by row, peak <= 300 MB; 1,000,000 rows: peak within 20%")


if __name__ == "__main__":
    main()
