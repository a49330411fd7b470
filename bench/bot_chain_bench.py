"""Benchmark (not a test): the bot chain at platform scale, beside the floor of its hops, same run.

    .venv/bin/python bench/bot_chain_bench.py --port-offset 900
    .venv/bin/python bench/bot_chain_bench.py --port-offset 900 --rates 10 --seconds 10 --no-noisy

Starts a bench stack (the test stack's emulators and gateway on ports shifted by --port-offset,
with the real 60 s AI window), makes --workspaces workspaces (sandbox WhatsApp channel, offline
bot answering an FAQ, the default AI limits) and, for each --rates value, has customers write
signed Twilio webhooks at that steady total rate for --seconds, spread over the workspaces (open
loop: a slow answer does not slow the senders). Then the noisy-neighbour run: one workspace at
5x its AI limit (5 messages/s against 60/min; --noisy-limit scales it down for a loaded machine)
while the others write at --noisy-rest messages/s.

For every inbound message, from its `createdAt` (server time, stored by the webhook):
  stored   -> the bot's reply `createdAt` (the message queued for the provider),
  provider -> the sandbox outbox entry's `createdAt` (the provider was handed the reply);
p50/p95/max for the workspaces within their limits, and for the noisy workspace apart. Lost
(no reply by the deadline) and duplicated replies (more than one outbox entry for one reply) are
counted (lost: by that run's deadline; then the bench waits up to --drain-seconds more, so the
next run does not inherit a backlog, and counts what was never answered, or answered twice). The
floor, measured before each rate at that rate: publish -> push to a no-op app that mints the push
token and enqueues one task on a queue like `bot-runs` -> the task reaches a no-op
(bench/chain_floor.py), through the same Pub/Sub emulator and Cloud Tasks emulator. The machine
is shared: compare the ratio to the floor, not absolute numbers.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from devstack.stack import TEST_PORTS, VENV, Ports, Stack, http_ok  # noqa: E402

PATH = "/webhooks/twilio/whatsapp"
CUSTOMERS_PER_WORKSPACE = 20
FAQ = [{"keywords": ["horario", "abren"], "intent": "hours", "answer": "Abrimos de 9 a 18 h, de lunes a viernes."}]
NOISY_TIMES = 5                         # the noisy workspace writes 5x its requestsPerMinute


# -- the stack and its workspaces -----------------------------------------------------------------
def bench_stack(offset: int) -> Stack:
    ports = Ports(**{k: v + offset for k, v in vars(TEST_PORTS).items()})
    return Stack(ports, project="utalk-bench", env_name="test", state_dir=ROOT / ".devstack" / f"bench-{offset}")


def make_workspaces(count: int) -> list[dict]:
    from devstack.seed import DEFAULT_SETTINGS, _acting_admin, create_workspace
    from utalk import clients
    from utalk.models.channels import CreateChannel
    from utalk.services.channels import create_channel

    def make(i: int) -> dict:
        ws, tenant, number = f"ws_bench{i:03d}_{uuid.uuid4().hex[:6]}", f"tenant_bench{i:03d}", f"+1415{5550000 + i}"
        create_workspace(ws, tenant, f"Bench {i}")
        settings = {**DEFAULT_SETTINGS, "bot": {**DEFAULT_SETTINGS["bot"], "provider": "offline", "faq": FAQ}}
        clients.firestore().collection("workspaces").document(ws).update({"settings": settings})
        create_channel(_acting_admin("bench", ws, tenant), CreateChannel(name="WhatsApp", phoneNumber=number,
                                                                         provider="sandbox"))
        return {"id": ws, "number": number,
                "customers": [f"+5215{i:03d}{c:05d}" for c in range(CUSTOMERS_PER_WORKSPACE)]}
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(make, range(count)))


def set_rate_limit(ws_id: str, per_minute: int) -> None:
    from utalk import clients

    clients.firestore().collection("workspaces").document(ws_id).update({"settings.ai.requestsPerMinute": per_minute})


# -- the chain: load and measurement ---------------------------------------------------------------
class Sender:
    """Signed inbound webhooks at planned times, each from its own thread of a pool (open loop)."""

    def __init__(self, gateway: int):
        import requests
        from twilio.request_validator import RequestValidator
        from utalk.channels.credentials import SANDBOX_AUTH_TOKEN
        from utalk.config import settings

        self.url = f"http://127.0.0.1:{gateway}{PATH}"
        self.signed_url = settings().public_base_url + PATH
        self.validator = RequestValidator(SANDBOX_AUTH_TOKEN)
        self.local = threading.local()
        self.requests = requests
        self.pool = ThreadPoolExecutor(64)

    def _session(self):
        if not hasattr(self.local, "session"):
            self.local.session = self.requests.Session()
        return self.local.session

    def post(self, ws: dict, customer: str, sid: str) -> bool:
        form = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": f"whatsapp:{customer}",
                "To": f"whatsapp:{ws['number']}", "Body": "hola, ¿a qué hora abren?", "NumMedia": "0"}
        try:
            r = self._session().post(self.url, data=form, timeout=30,
                                     headers={"X-Twilio-Signature": self.validator.compute_signature(self.signed_url, form)})
            return r.status_code == 200
        except self.requests.RequestException:
            return False

    def run(self, plan: list[tuple[float, dict, str]]) -> list[dict]:
        """plan: (seconds from start, workspace, customer); returns one record per message."""
        start, futures, sent = time.monotonic() + 0.5, [], []
        for at, ws, customer in plan:
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            record = {"ws": ws["id"], "customer": customer, "number": ws["number"], "sid": "SM" + uuid.uuid4().hex}
            sent.append(record)
            futures.append((record, self.pool.submit(self.post, ws, customer, record["sid"])))
        for record, future in futures:
            record["accepted"] = future.result()
        return sent


def steady(workspaces: list[dict], rate: float, seconds: float, rnd: random.Random) -> list[tuple[float, dict, str]]:
    if rate <= 0:
        return []
    return [(i / rate, ws, rnd.choice(ws["customers"]))
            for i, ws in enumerate(rnd.choice(workspaces) for _ in range(int(rate * seconds)))]


def collect(sent: list[dict], since, deadline: float) -> dict:
    """Wait (until `deadline`) until the provider was handed a reply per accepted message; then
    match every inbound message (by its provider id) with its reply and outbox entries."""
    from google.cloud.firestore_v1 import FieldFilter

    from utalk import clients
    from utalk.services.bot import reply_key
    from utalk.services.messaging import outbound_id

    db = clients.firestore()
    accepted = [s for s in sent if s["accepted"]]
    recent = FieldFilter("createdAt", ">=", since)
    outbox_query = db.collection_group("sandboxOutbox").where(filter=recent)
    while outbox_query.count().get()[0][0].value < len(accepted) and time.monotonic() < deadline:
        time.sleep(2)
    time.sleep(2)                                   # room for a duplicate to show
    inbound, replies, copies, handed = {}, {}, Counter(), {}
    for snap in db.collection_group("messages").where(filter=recent).stream():
        m = snap.to_dict()
        if m.get("direction") == "inbound":
            inbound[m.get("providerId")] = m
        else:
            replies[m["id"]] = m
    for snap in outbox_query.stream():
        o = snap.to_dict()
        copies[o["messageId"]] += 1
        handed[o["messageId"]] = min(handed.get(o["messageId"], o["createdAt"]), o["createdAt"])
    rows = []
    for s in accepted:
        msg = inbound.get(s["sid"])
        reply_id = outbound_id(reply_key(msg["id"])) if msg else None
        rows.append({**s, "in": msg, "reply": replies.get(reply_id), "outbox": handed.get(reply_id),
                     "copies": copies.get(reply_id, 0)})
    return {"rows": rows, "rejected": len(sent) - len(accepted)}


def latencies(rows: list[dict], field: str) -> list[float]:
    return sorted((r[field]["createdAt"] if field == "reply" else r[field]).timestamp() * 1000
                  - r["in"]["createdAt"].timestamp() * 1000 for r in rows if r["in"] and r[field])


def settle(sent: list[dict], since, seconds: float) -> None:
    """`lost` in a run's line is "no reply by that run's deadline": on a saturated machine some
    are only late. Before the next run starts, wait up to `seconds` more for them (so a run does
    not inherit the previous one's backlog) and count what was never answered or answered twice."""
    rows = collect(sent, since, time.monotonic() + seconds)["rows"]
    late = [r for r in rows if r["outbox"]]
    print(f"{'  then, within ' + format(seconds, 'g') + ' s more':34} {len(rows):5d} "
          f"{sum(1 for r in rows if not r['outbox']):4d} {sum(1 for r in rows if r['copies'] > 1):3d} | "
          f"provider max {max(latencies(late, 'outbox'), default=float('nan')):7.0f}", flush=True)


# -- the floor -------------------------------------------------------------------------------------
class Floor:
    """bench/chain_floor.py under gunicorn like the gateway, fed by a push subscription and a queue."""

    def __init__(self, stack: Stack, workers: int, threads: int):
        from google.cloud import pubsub_v1

        from devstack import oidc
        from devstack.provision import queue_request
        from devstack.pusher import Pusher
        from utalk import clients, manifest
        from utalk.config import settings

        cfg = settings()
        self.port = stack.ports.gateway + 7
        self.log = Path(tempfile.mkdtemp()) / "floor.log"
        self.log.touch()
        parent = f"projects/{cfg.project_id}/locations/{cfg.region}"
        self.queue = f"{parent}/queues/bench-floor-{uuid.uuid4().hex[:6]}"
        like_bot_runs = {**queue_request(manifest.queue("bot-runs"), parent), "name": self.queue}
        clients.tasks().create_queue(parent=parent, queue=like_bot_runs)
        stack._spawn("floor", [str(VENV / "bin/gunicorn"), "-w", str(workers), "--threads", str(threads),
                               "-b", f"127.0.0.1:{self.port}", "bench.chain_floor:app"],
                     env={"UTALK_FLOOR_QUEUE": self.queue, "UTALK_FLOOR_LOG": str(self.log),
                          "UTALK_FLOOR_TASK_URL": f"http://127.0.0.1:{self.port}/task"})
        stack._wait("floor", lambda: http_ok(f"http://127.0.0.1:{self.port}/health"))
        self.publisher = clients.publisher()
        self.topic = self.publisher.topic_path(cfg.project_id, f"bench-floor-{uuid.uuid4().hex[:6]}")
        self.publisher.create_topic(name=self.topic)
        # Pushed by the same local push service as our subscribers, with the token it mints for them.
        self.subscriber = pubsub_v1.SubscriberClient()
        name = self.subscriber.subscription_path(cfg.project_id, self.topic.rsplit("/", 1)[1] + "--noop")
        self.subscriber.create_subscription(request={"name": name, "topic": self.topic})
        url = f"http://127.0.0.1:{self.port}/push"
        Pusher(name, url, token=lambda: oidc.mint(url, cfg.invoker_service_account)).start(self.subscriber)

    def run(self, rate: float, seconds: float) -> list[float]:
        self.log.write_text("")
        count, start = int(rate * seconds), time.monotonic()
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.publisher.publish(self.topic, f'{{"sentAt": {time.time()}}}'.encode())
        deadline = time.monotonic() + 60
        while len(self.log.read_text().splitlines()) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return sorted((float(b) - float(a)) * 1000 for a, b in (line.split() for line in self.log.read_text().splitlines()))


# -- the table -------------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def stats(values: list[float]) -> str:
    return f"{pct(values, 50):7.0f} {pct(values, 95):7.0f} {max(values) if values else float('nan'):7.0f}"


HEADER = (f"{'run':34} {'msgs':>5} {'lost':>4} {'dup':>3} | {'stored p50':>10} {'p95':>7} {'max':>7} | "
          f"{'provider p50':>12} {'p95':>7} {'max':>7} | {'floor p50':>9} {'p95':>7} {'max':>7} | ratio p50/p95")


def line(name: str, rows: list[dict], floor: list[float] | None) -> str:
    stored, provider = latencies(rows, "reply"), latencies(rows, "outbox")
    lost = sum(1 for r in rows if not r["outbox"])
    dup = sum(1 for r in rows if r["copies"] > 1)
    ratio = (f"{pct(stored, 50) / pct(floor, 50):5.1f} / {pct(stored, 95) / pct(floor, 95):5.1f}"
             if floor and stored else "")
    return (f"{name:34} {len(rows):5d} {lost:4d} {dup:3d} | {stats(stored):>26} | {stats(provider):>28} | "
            f"{stats(floor) if floor else '':>25} | {ratio}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port-offset", type=int, default=900)
    ap.add_argument("--workspaces", type=int, default=100)
    ap.add_argument("--rates", type=float, nargs="*", default=[1, 10, 50], help="total messages/s")
    ap.add_argument("--seconds", type=float, default=20, help="how long each rate runs")
    ap.add_argument("--floor-seconds", type=float, default=10)
    ap.add_argument("--no-noisy", action="store_true", help="skip the noisy-neighbour run")
    ap.add_argument("--noisy-rest", type=float, default=10, help="messages/s of the others during the noisy run")
    ap.add_argument("--drain-seconds", type=float, default=120,
                    help="after each run, wait up to this long for its late replies before the next")
    ap.add_argument("--noisy-limit", type=int, default=60,
                    help="the noisy workspace's requestsPerMinute (it writes 5x that)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()

    stack = bench_stack(args.port_offset)
    stack.apply_env()
    os.environ.pop("UTALK_AI_WINDOW_SECONDS", None)          # the real 60 s window
    import logging
    logging.getLogger("utalk").setLevel(logging.ERROR)
    rnd = random.Random(14)
    try:
        stack.start_emulators()
        from devstack.provision import provision
        provision()
        stack.start_gateway(workers=args.workers, threads=args.threads)
        stack.start_pusher()
        floor = Floor(stack, args.workers, args.threads)
        workspaces = make_workspaces(args.workspaces)
        sender = Sender(stack.ports.gateway)
        # Warm up: each function's app is built on its first request (a cold start), not measured.
        floor.run(5, 2)
        warm = datetime.now(timezone.utc)
        collect(sender.run(steady(workspaces, 5, 4, rnd)), warm, time.monotonic() + 60)
        print(f"{len(workspaces)} workspaces, {CUSTOMERS_PER_WORKSPACE} customers each, offline bot; gateway "
              f"{args.workers}x{args.threads}; latencies in ms from the inbound message's createdAt\n")
        print(HEADER)
        for rate in args.rates:
            floor_ms = floor.run(rate, args.floor_seconds)
            since = datetime.now(timezone.utc)
            sent = sender.run(steady(workspaces, rate, args.seconds, rnd))
            result = collect(sent, since, time.monotonic() + 60 + args.seconds)
            print(line(f"{rate:g} msg/s", result["rows"], floor_ms), flush=True)
            settle(sent, since, args.drain_seconds)
        if not args.no_noisy:
            noisy, rest = workspaces[0], workspaces[1:]
            noisy_rate = NOISY_TIMES * args.noisy_limit / 60
            set_rate_limit(noisy["id"], args.noisy_limit)
            floor_ms = floor.run(args.noisy_rest + noisy_rate, args.floor_seconds)
            plan = sorted(steady(rest, args.noisy_rest, args.seconds, rnd)
                          + steady([noisy], noisy_rate, args.seconds, rnd), key=lambda p: p[0])
            since = datetime.now(timezone.utc)
            sent = sender.run(plan)
            # The noisy workspace's excess waits for later windows: its limit answered per minute.
            backlog_minutes = noisy_rate * args.seconds / args.noisy_limit
            result = collect(sent, since, time.monotonic() + 90 + 60 * backlog_minutes)
            others = [r for r in result["rows"] if r["ws"] != noisy["id"]]
            print(line(f"noisy run: {len(rest)} within limits", others, floor_ms))
            print(line(f"noisy run: 1 at 5x its {args.noisy_limit}/min",
                       [r for r in result["rows"] if r["ws"] == noisy["id"]], None), flush=True)
            settle(sent, since, args.drain_seconds)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
