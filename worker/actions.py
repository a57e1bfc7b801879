"""The action registry and the built-in handlers: a Standard Webhooks POST to the CMS, or a log line."""
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = {408, 429}


class PermanentFailure(Exception):
    """The action can never succeed as it stands (bad request, unknown action): fail the task."""


class RetryableFailure(Exception):
    """The action may succeed later (timeout, 5xx, 429): try again after a backoff or `retry_after` seconds."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Job:
    """One run of a task, as a handler sees it."""

    id: str
    action: str
    content_id: str
    payload: dict
    version: int
    attempt: int
    scheduled_for: datetime
    lateness_seconds: int

    @property
    def idempotency_key(self):
        """The same for every attempt of one version, so that a receiver can drop a repeat."""
        return f"{self.id}:{self.version}"


def resolve(action):
    """Return the callable registered for `action` in SCHEDULER_ACTIONS; PermanentFailure if none."""
    path = settings.SCHEDULER_ACTIONS.get(action)
    if path is None:
        valid = ", ".join(sorted(settings.SCHEDULER_ACTIONS))
        raise PermanentFailure(f"Unknown action {action!r}; valid actions: {valid}.")
    return import_string(path)


def default_handler(job):
    """Send the signed webhook when SCHEDULER_WEBHOOK_URL is set; otherwise only log the job."""
    if settings.SCHEDULER_WEBHOOK_URL:
        return send_webhook(job, url=settings.SCHEDULER_WEBHOOK_URL, secret=settings.SCHEDULER_WEBHOOK_SECRET)
    return log_only(job)


def log_only(job):
    """Log the job and return an outcome that says plainly that nothing was sent."""
    logger.info("Would %s %s (task %s); no webhook URL is configured, so nothing was sent",
                job.action, job.content_id, job.id)
    return "logged only: SCHEDULER_WEBHOOK_URL is not set, nothing was sent"


def webhook_body(job, now):
    return {
        "type": f"task.{job.action}",
        "timestamp": now.isoformat(),
        "data": {
            "task_id": job.id, "action": job.action, "content_id": job.content_id, "payload": job.payload,
            "version": job.version, "attempt": job.attempt,
            "scheduled_for": job.scheduled_for.isoformat(), "lateness_seconds": job.lateness_seconds,
        },
    }


def signing_key(secret):
    """Return the HMAC key of a Standard Webhooks secret ("whsec_" + base64)."""
    if not secret:
        raise ImproperlyConfigured("SCHEDULER_WEBHOOK_SECRET is required when SCHEDULER_WEBHOOK_URL is set.")
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ImproperlyConfigured("SCHEDULER_WEBHOOK_SECRET must be 'whsec_' followed by base64 text.") from None


def sign(secret, message_id, timestamp, body):
    """Return the Standard Webhooks signature header value for one message."""
    digest = hmac.new(signing_key(secret), f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def send_webhook(job, *, url, secret):
    """POST the job to the CMS, signed per Standard Webhooks; return the outcome or raise a failure."""
    body = json.dumps(webhook_body(job, timezone.now()), separators=(",", ":"))
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "webhook-id": job.idempotency_key,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(secret, job.idempotency_key, timestamp, body),
        "idempotency-key": job.idempotency_key,
    }
    try:
        response = requests.post(url, data=body.encode(), headers=headers,
                                 timeout=settings.SCHEDULER_WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.Timeout:
        raise RetryableFailure(f"webhook timed out after {settings.SCHEDULER_WEBHOOK_TIMEOUT_SECONDS:g} s") from None
    except requests.RequestException as exc:
        raise RetryableFailure(f"webhook could not be delivered: {exc}") from None
    summary = f"webhook answered {response.status_code}: {response.text[:500]}".rstrip(": ")
    if 200 <= response.status_code < 300:
        return summary
    if response.status_code in RETRYABLE_STATUSES or response.status_code >= 500:
        raise RetryableFailure(summary, retry_after=_retry_after(response))
    raise PermanentFailure(summary)


def _retry_after(response):
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None
