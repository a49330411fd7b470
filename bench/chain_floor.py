"""The floor of the bot chain (bench/bot_chain_bench.py): one Pub/Sub push hop, one Cloud Tasks hop, a no-op.

    UTALK_FLOOR_QUEUE=... UTALK_FLOOR_TASK_URL=... UTALK_FLOOR_LOG=... gunicorn bench.chain_floor:app

`/push` is what the local push service (devstack/pusher.py, run by the bench for the floor's
subscription exactly as for our subscribers) calls, with the token it mints for every push; it enqueues one task on the floor queue
(a copy of `bot-runs`) through the official client, with an OIDC token for the emulator to mint,
as our tasks carry. `/task` is the no-op the task reaches: it appends the message's send time and
its own arrival time to a log. Nothing else: no Firestore, no verification, no logic, so the
chain's latency over this one is what our code adds.
"""
from __future__ import annotations

import base64
import json
import os
import time

from utalk import clients
from utalk.config import settings

QUEUE, TASK_URL, LOG = (os.environ.get(k, "") for k in ("UTALK_FLOOR_QUEUE", "UTALK_FLOOR_TASK_URL", "UTALK_FLOOR_LOG"))


def _answer(start_response, status: str = "200 OK"):
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if environ["PATH_INFO"] == "/push":
        message = json.loads(body)["message"]
        data = base64.b64decode(message["data"])
        clients.tasks().create_task(parent=QUEUE, task={"http_request": {
            "http_method": "POST", "url": TASK_URL, "body": data, "headers": {"Content-Type": "application/json"},
            "oidc_token": {"service_account_email": settings().invoker_service_account, "audience": TASK_URL}}})
        return _answer(start_response)
    if environ["PATH_INFO"] == "/task":
        sent = json.loads(body)["sentAt"]
        with open(LOG, "a") as log:                 # one short line per write: appends do not interleave
            log.write(f"{sent} {time.time()}\n")
        return _answer(start_response)
    return _answer(start_response, "404 Not Found")
