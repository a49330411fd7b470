"""The manifest plus one scheduled row (no real row has a schedule yet): the full deploy's rows.

A manifest-shaped module names FUNCTIONS, and QUEUES, TOPICS, SECRETS where they differ from the manifest's.
"""
from dataclasses import dataclass

from utalk import manifest


@dataclass(frozen=True)
class Scheduled(manifest.Function):
    time_zone: str | None = None     # the trigger field the manifest's scheduled rows carry


DIGEST = Scheduled("daily_digest", "health:health", schedule="0 7 * * *", time_zone="America/Bogota",
                   public=False, timeout_seconds=120)
FUNCTIONS = manifest.FUNCTIONS + (DIGEST,)
