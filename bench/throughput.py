"""Tick throughput against a receiver that takes 100 ms a request: concurrency 1 against 16, one run.

    .venv/bin/python bench/throughput.py [--tasks 2000] [--latency 0.1] [--concurrency 1 16]

DynamoDB: by default dynalite (npm; a DynamoDB emulator on LevelDB that keeps up with a tick; the
script installs it under bench/.node on first use). `--dynamodb local` uses the project's local DynamoDB
(moto over HTTP, one request at a time: about 100 requests/s here, so a tick tops out near 50 tasks/s
whatever its concurrency); `--dynamodb inprocess` uses moto in this process. The receiver is a
threaded HTTP server on 127.0.0.1 that answers 200 after the latency.
"""
import argparse
import contextlib
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import fresh_store, put_tasks
from dynalite import start_dynalite
from moto import mock_aws

from worker.engine import run_tick

ROOT = Path(__file__).resolve().parents[1]


def slow_receiver(latency):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(latency)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads, server.request_queue_size = True, 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--dynamodb", choices=["dynalite", "local", "inprocess"], default="dynalite")
    args = parser.parse_args()
    if args.dynamodb == "dynalite":
        dynamodb, endpoint = start_dynalite()
        mock = contextlib.nullcontext()
    elif args.dynamodb == "local":
        dynamodb = subprocess.Popen([sys.executable, "-m", "worker.local_dynamodb"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        endpoint, mock = dynamodb.stdout.readline().strip(), contextlib.nullcontext()
    else:
        dynamodb, endpoint, mock = None, None, mock_aws()
    receiver, url = slow_receiver(args.latency)
    results = {}
    try:
        mock.__enter__()
        for concurrency in args.concurrency:
            store = fresh_store(endpoint, SCHEDULER_CONCURRENCY=concurrency, SCHEDULER_WEBHOOK_URL=url,
                                SCHEDULER_WEBHOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            put_tasks(store, args.tasks, due_in=-timedelta(minutes=5))
            started, done = time.perf_counter(), 0
            while done < args.tasks:
                done += run_tick()["done"]
            results[concurrency] = seconds = time.perf_counter() - started
            print(f"concurrency {concurrency:>3}: {args.tasks} tasks in {seconds:7.1f} s = {args.tasks / seconds:6.1f} tasks/s")
    finally:
        mock.__exit__(None, None, None)
        receiver.shutdown()
        if dynamodb:
            dynamodb.terminate()
    if len(results) > 1:
        low, high = min(results), max(results)
        print(f"speed-up {high} vs {low}: {results[low] / results[high]:.1f}x (goal: >= 8x)")


if __name__ == "__main__":
    main()
