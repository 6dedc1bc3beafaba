from celery import shared_task

from apps.core.models import Heartbeat


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Record that beat scheduled and a worker ran a task (idempotent)."""
    Heartbeat.beat("pipeline")
