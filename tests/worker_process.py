"""A worker process for the concurrency tests: ticks, each tick delivered DUPLICATES times at once,
until no live task is left in the due index or SECONDS have passed. Usage: worker_process.py SECONDS DUPLICATES"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django  # noqa: E402

django.setup()

from django.utils import timezone  # noqa: E402

from tasks.store import get_store  # noqa: E402
from worker.engine import run_tick  # noqa: E402


def main(seconds, duplicates):
    deadline, store = time.monotonic() + seconds, get_store()
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(duplicates) as pool:
            list(pool.map(lambda _: run_tick(), range(duplicates)))
        if not store.query_due(timezone.now() + timedelta(days=1)).tasks:
            return 0
        time.sleep(0.2)
    return 1


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]), int(sys.argv[2])))
