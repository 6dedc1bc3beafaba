from django.db import models
from django.utils import timezone


class Heartbeat(models.Model):
    """When a background process last proved it was alive.

    Beat enqueues a heartbeat task on a schedule and a worker runs it, so one fresh row
    means the whole beat -> broker -> worker pipeline works.
    """

    name = models.CharField(max_length=40, unique=True)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_seen:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def beat(cls, name: str) -> None:
        cls.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})

    @classmethod
    def age_seconds(cls, name: str) -> float | None:
        row = cls.objects.filter(name=name).first()
        if row is None:
            return None
        return (timezone.now() - row.last_seen).total_seconds()
