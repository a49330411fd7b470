"""What one customer message costs in billable operations, counted on the local chain.

    UTALK_TEST_PORT_OFFSET=700 .venv/bin/python bench/flow_costs.py [--messages 5]

Starts the test emulators, seeds the demo workspace (sandbox WhatsApp channel, offline bot), then
plays one conversation by hand through the functions themselves (functions-framework apps
in-process): the signed inbound webhook, the `message-received` push to bot_dispatch, the tasks
it enqueues, the bot's outbound push to message_sender. Every Firestore RPC (documents read,
documents written, queries, transactions), every published Pub/Sub message (by topic), every
task created and every function invocation is counted per step. docs/deploy.md turns the table
into a cost per 1,000,000 messages.
"""
from __future__ import annotations

import argparse
import base64
import collections
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from devstack.stack import test_stack  # noqa: E402

COUNTS: collections.Counter = collections.Counter()
CALLBACKS: list = []                               # the sandbox provider's status callbacks, replayed later
PUBLISHED: list[tuple[str, dict, bytes]] = []      # (topic, attributes, data)
TASKS: list[tuple[str, bytes]] = []                # (function url, body)


def instrument() -> None:
    """Count at the RPC boundary: the library's Firestore API, the raw Commit/Publish, task creation."""
    from utalk import clients, rpc

    api = clients.firestore()._firestore_api

    def wrap(name, fn):
        def counted(*args, **kwargs):
            request = kwargs.get("request") or (args[0] if args else None)
            if name == "batch_get_documents":
                COUNTS["firestore reads"] += len(getattr(request, "documents", None) or request.get("documents", []))
            elif name == "commit":
                COUNTS["firestore writes"] += len(getattr(request, "writes", None) or request.get("writes", []))
            elif name == "begin_transaction":
                COUNTS["firestore transactions"] += 1
            result = fn(*args, **kwargs)
            if name in ("run_query", "run_aggregation_query"):
                COUNTS["firestore queries"] += 1
                COUNTS["firestore aggregations"] += name == "run_aggregation_query"
                return _counting_stream(result)
            return result
        return counted

    for name in ("batch_get_documents", "commit", "run_query", "run_aggregation_query", "begin_transaction"):
        setattr(api, name, wrap(name, getattr(api, name)))

    raw = rpc.Method.call

    def counted_raw(self, request, metadata, timeout=30.0):
        if self.path.endswith("/Commit"):
            COUNTS["firestore writes"] += len(request.writes)
        elif self.path.endswith("/Publish"):
            topic = request.topic.rsplit("/", 1)[-1]
            for m in request.messages:
                COUNTS[f"pubsub messages to {topic}"] += 1
                PUBLISHED.append((topic, dict(m.attributes), bytes(m.data)))
        return raw(self, request, metadata, timeout)
    rpc.Method.call = counted_raw

    tasks = clients.tasks()
    create = tasks.create_task

    def counted_task(*args, **kwargs):
        task = kwargs.get("task") or args[1]
        request = task["http_request"]
        COUNTS[f"tasks to {request['url'].rsplit('/', 1)[-1]}"] += 1
        TASKS.append((request["url"], request["body"]))
        return create(*args, **kwargs)
    tasks.create_task = counted_task


def hold_status_callbacks(status_app) -> None:
    """The sandbox posts sent/delivered/read callbacks from a thread, as Twilio does; keep them for
    their own step, delivered to the twilio_status function in-process."""
    import types
    from urllib.parse import urlsplit

    from utalk.channels import sandbox

    sandbox.CALLBACK_GAP_SECONDS = 0
    sandbox.threading = types.SimpleNamespace(Thread=lambda target, args, daemon: types.SimpleNamespace(
        start=lambda: CALLBACKS.append((target, args))))

    def post(url, data, headers, timeout):
        parts = urlsplit(url)
        status_app.post(f"{parts.path}?{parts.query}", data=data, headers=headers)
    sandbox.requests = types.SimpleNamespace(post=post, RequestException=Exception)


def _counting_stream(responses):
    for response in responses:
        if getattr(response, "document", None) is not None and response.document.name:
            COUNTS["firestore reads"] += 1        # a query bills each document it returns
        yield response


def app(name: str):
    from functions_framework import create_app
    from utalk import manifest

    return create_app(name, str(ROOT / "functions" / "main.py"), manifest.get(name).signature_type).test_client()


def invoker(name: str, **headers) -> dict:
    """The headers Pub/Sub push or Cloud Tasks would send internal function `name` (its OIDC token)."""
    from devstack import oidc
    from utalk.config import settings
    from utalk.internal_auth import audience

    return {"Authorization": f"Bearer {oidc.mint(audience(name), settings().invoker_service_account)}", **headers}


def push(topic_messages: list[tuple[str, dict, bytes]], topic: str) -> list[dict]:
    return [{"message": {"data": base64.b64encode(data).decode(), "attributes": attrs, "messageId": str(uuid.uuid4())},
             "subscription": f"projects/utalk-test/subscriptions/{topic}--x"}
            for t, attrs, data in topic_messages if t == topic]


def step(name: str, table: dict, invocations: int, run) -> None:
    COUNTS.clear()
    run()
    COUNTS["function invocations"] += invocations
    table[name] = dict(COUNTS)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=5, help="customer messages in the conversation (first one new)")
    args = ap.parse_args()
    stack = test_stack()
    stack.apply_env()
    try:
        stack.start_emulators()
        from devstack.provision import provision
        from devstack.seed import seed
        provision()
        seed()
        import logging
        logging.getLogger("utalk").setLevel(logging.ERROR)
        instrument()
        table = play(args.messages)
        print(json.dumps(table, indent=1, sort_keys=True))
        print(f"\none message on an existing conversation (the conversation's message {args.messages}), all steps:")
        totals: collections.Counter = collections.Counter()
        for name, counts in table.items():
            if "existing" in name:
                totals.update(counts)
        for key, value in sorted(totals.items()):
            print(f"  {key:40} {value}")
    finally:
        stack.stop()
    return 0


def play(messages: int, last_text: str | None = None) -> dict[str, dict]:
    """One conversation of `messages` customer messages (the last one saying `last_text`, if
    given) through the chain, each step's counts in the table (instrument() first)."""
    from devstack.seed import DEMO_NUMBER
    from twilio.request_validator import RequestValidator
    from utalk.channels.credentials import SANDBOX_AUTH_TOKEN
    from utalk.config import settings

    inbound, dispatch, bot_run, sender = app("twilio_inbound"), app("bot_dispatch"), app("bot_run"), app("message_sender")
    timeout = app("escalation_timeout")
    hold_status_callbacks(app("twilio_status"))
    path = "/webhooks/twilio/whatsapp"
    validator = RequestValidator(SANDBOX_AUTH_TOKEN)
    customer = f"+52155{uuid.uuid4().int % 10 ** 8:08d}"
    table: dict[str, dict] = {}

    def webhook(i: int):
        form = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32, "From": f"whatsapp:{customer}",
                "To": f"whatsapp:{DEMO_NUMBER}", "NumMedia": "0",
                "Body": last_text if last_text and i == messages - 1 else f"hola {i}"}
        sig = validator.compute_signature(settings().public_base_url + path, form)
        assert inbound.post(path, data=form, headers={"X-Twilio-Signature": sig}).status_code == 200

    for i in range(messages):
        label = "new conversation" if i == 0 else "last message, escalated" if last_text and i == messages - 1 \
            else "existing conversation"
        PUBLISHED.clear()
        TASKS.clear()
        step(f"1 inbound webhook ({label})", table, 1, lambda: webhook(i))
        received = push(PUBLISHED, "message-received")
        PUBLISHED.clear()
        step(f"2 bot_dispatch push ({label})", table, len(received),
             lambda: [dispatch.post("/", json=b, headers=invoker("bot_dispatch")) for b in received])
        queued = list(TASKS)
        runs = [b for u, b in queued if u.endswith("/bot_run")]
        checks = [b for u, b in queued if u.endswith("/escalation_timeout")]
        json_body = {"Content-Type": "application/json"}
        as_task = lambda name: invoker(name, **json_body)  # noqa: E731
        step(f"3 bot_run task ({label})", table, len(runs),
             lambda: [bot_run.post("/", data=b, headers=as_task("bot_run")) for b in runs])
        step(f"5 escalation_timeout task, fired later ({label})", table, len(checks),
             lambda: [timeout.post("/", data=b, headers=as_task("escalation_timeout")) for b in checks])
        outbound = push(PUBLISHED, "message-outbound")
        CALLBACKS.clear()
        step(f"4 message_sender push ({label})", table, len(outbound),
             lambda: [sender.post("/", json=b, headers=invoker("message_sender")) for b in outbound])
        callbacks = list(CALLBACKS)
        step(f"6 twilio_status callbacks: sent, delivered, read ({label})", table, 3 * len(callbacks),
             lambda: [target(*a) for target, a in callbacks])
    return table


if __name__ == "__main__":
    sys.exit(main())
