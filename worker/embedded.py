"""The parts `runscheduler` runs in one process on a laptop: an embedded DynamoDB, an admin user, a tick loop."""
import logging
import os
import secrets
import socket
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections

from worker.engine import run_tick

logger = logging.getLogger(__name__)


class PortTaken(Exception):
    pass


def start_dynamodb(port=0):
    """Start moto's DynamoDB server on 127.0.0.1:`port` (0: any free one), point the gateway at it; return (server, url)."""
    from moto.server import ThreadedMotoServer  # a development dependency: only the local runner needs it

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortTaken(f"port {port} on 127.0.0.1 is taken") from None
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per DynamoDB call is noise
    # moto accepts any credentials, but botocore refuses to sign a request without some.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "embedded")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "embedded")
    url = f"http://127.0.0.1:{port}"
    settings.SCHEDULER_DYNAMODB_ENDPOINT_URL = url
    return server, url


def ensure_admin(username, password=None):
    """Make sure a superuser `username` exists; return the password if one was generated, else None."""
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user and not password:
        return None
    generated = None if password else secrets.token_urlsafe(12)
    user = user or users(username=username, email="")
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password or generated)
    user.save()
    return generated


def tick_forever(stop, interval):
    """Run a tick every `interval` seconds until `stop` is set (a thread's target)."""
    while not stop.is_set():
        try:
            summary = run_tick()
            if summary["due"]:
                logger.info("Tick: %s", summary)
        except Exception:
            logger.exception("Tick failed; trying again in %s s", interval)
        finally:
            close_old_connections()
        stop.wait(interval)


def start_ticking(interval):
    """Start the tick loop in a daemon thread; return the event that stops it."""
    stop = threading.Event()
    threading.Thread(target=tick_forever, args=(stop, interval), name="worker-tick", daemon=True).start()
    return stop
