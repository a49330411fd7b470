"""A queue's rate and a subscription's ack deadline changed: what --plan must report, not apply."""
import dataclasses

from tuned import FUNCTIONS as BASE
from utalk.manifest import QUEUES as BASE_QUEUES

QUEUES = tuple(dataclasses.replace(q, max_dispatches_per_second=2.0) if q.name == "bot-runs" else q
               for q in BASE_QUEUES)
FUNCTIONS = tuple(dataclasses.replace(f, timeout_seconds=300) if f.name == "message_sender" else f for f in BASE)
