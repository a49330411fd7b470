"""The manifest plus one more scheduled row, in a time zone of its own: the full deploy's rows.

A manifest-shaped module names FUNCTIONS, and QUEUES, TOPICS, SECRETS where they differ from the manifest's.
"""
from utalk import manifest

DIGEST = manifest.Function("daily_digest", "health:health", schedule="0 7 * * *", time_zone="America/Bogota",
                           public=False, timeout_seconds=120)
FUNCTIONS = manifest.FUNCTIONS + (DIGEST,)
