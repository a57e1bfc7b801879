"""App config for the worker (no models; it owns the run_worker and runscheduler commands)."""
from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Worker"
