"""The parts `runscheduler` runs beside the admin on a laptop: an admin user and a tick loop."""
import logging
import secrets
import threading

from django.contrib.auth import get_user_model
from django.db import close_old_connections

from worker.engine import run_tick

logger = logging.getLogger(__name__)


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
