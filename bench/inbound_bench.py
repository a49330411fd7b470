"""Benchmark (not a test): our inbound webhooks (WhatsApp, Messenger) against the floor webhook, same run.

Starts a bench copy of the local emulators (or reuses them with --reuse), creates a workspace with
a WhatsApp channel and a Facebook Page, then for each concurrency level drives signed inbound
webhooks (unique message ids, 1,000 customers at random, like ../shared/bench/floor-webhook/inbound.lua)
for --seconds against:
  floor     : ../shared/bench/floor-webhook `inbound_batch` under gunicorn 2x8 (one batch, no read,
              no signature, no Pub/Sub) - the least work an inbound webhook can do;
  utalk     : our twilio_inbound under gunicorn 2x8, as deployed (its own functions-framework app,
              devstack/function_app.py, no gateway): route (cached), signature check, one batch
              (message create + conversation merge), one Publish (message-received, carrying the
              realtime events);
  messenger : our messenger_inbound the same way, with Meta's notification (JSON, one entry, one
              message) signed with X-Hub-Signature-256: the same store path behind another adapter;
  webchat   : our webchat_send the same way: a web chat visitor's message (JSON, the visitor's
              bearer token, one of 5,000 visitors each behind its own address in X-Forwarded-For, each
              keeping its token for the run as the widget does),
              through the per-IP and per-visitor limits into the same store path.
All use the same Firestore emulator. Topics exist but have no subscriptions, so the function is
measured alone (in production the bot and relay run in other instances).

The load comes from wrk replaying pre-signed requests (bench/inbound_replay.lua) when wrk is
installed, else from a pure-Python generator (processes x threads, keep-alive http.client); either
shares the machine's cores with the servers, so compare the ratio, not absolute numbers. Firestore reads and
writes per inbound message are counted, not assumed: the same handler runs in-process with the
Firestore client's RPCs instrumented.

    .venv/bin/python bench/inbound_bench.py                      # c = 1, 16, 64; 12 s each in 3 rounds
    .venv/bin/python bench/inbound_bench.py --levels 16 --seconds 5
    .venv/bin/python bench/inbound_bench.py --channels messenger      # floor and Messenger only
    .venv/bin/python bench/inbound_bench.py --channels webchat --levels 16   # a web visitor's send vs the floor
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from bench import harness  # noqa: E402
from devstack.stack import TEST_PORTS, VENV, Ports, Stack, http_ok, port_open  # noqa: E402

PROJECT = "utalk-bench"
FLOOR_PROJECT = "floor-bench"
# ../shared beside the checkout, or the nearest folder up that has it (a worktree under /work/wt);
# UTALK_BENCH_FLOOR_DIR names it anywhere else (as relay_bench.py's UTALK_BENCH_PEER_DIR its peer).
FLOOR_DIR = Path(os.environ.get("UTALK_BENCH_FLOOR_DIR") or next(
    (p / "shared" / "bench" / "floor-webhook" for p in ROOT.parents if (p / "shared" / "bench" / "floor-webhook").is_dir()),
    ROOT.parent / "shared" / "bench" / "floor-webhook"))
BUSINESS = "+14155238886"
PAGE = "100000000000777"
PATH = "/webhooks/twilio/whatsapp"
MESSENGER_PATH = "/webhooks/messenger"
NCONV = 1000
# Web chat visitors: each may send 20 messages a minute (limits.WEBCHAT_MESSAGES), so 1,000 of them
# cap a clean run at ~333 req/s; above that they are refused with 429 (cheap, and counted as failures).
# 5,000 leave room past the goal (0.7x of a ~700 req/s floor); their first messages, which open a
# conversation, fall in the 40 s warm-up.
WEB_VISITORS = 5000


@dataclass(frozen=True)
class Target:
    """A server under load and the webhook it is sent: `kind` whatsapp (Twilio's signed form; the
    floor takes it too), messenger (Meta's signed JSON) or webchat (a visitor's message; `secret`
    is then "workspace/channelId/channelKey")."""
    name: str
    port: int
    path: str
    kind: str
    public_url: str       # what Twilio signs
    secret: str           # the channel's auth token / app secret

    @property
    def customers(self) -> int:
        return WEB_VISITORS if self.kind == "webchat" else NCONV

    @property
    def replayed(self) -> tuple[str, ...]:
        """The headers that differ per request (what wrk replays beside the body)."""
        return {"messenger": ("X-Hub-Signature-256",), "webchat": ("Authorization", "X-Forwarded-For")}.get(
            self.kind, ("X-Twilio-Signature",))

    def signer(self):
        if self.kind == "webchat":
            return _visitor_tokens(self.secret)
        if self.kind == "messenger":
            import hashlib
            import hmac
            return lambda raw: "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        from twilio.request_validator import RequestValidator
        return RequestValidator(self.secret)

    def request(self, signer, key: str, customer: int) -> tuple[str, dict]:
        """One unique webhook (body, headers): message id from `key`, customer number `customer`."""
        if self.kind == "webchat":
            message_id = uuid.UUID(bytes=uuid.uuid5(uuid.NAMESPACE_URL, key).bytes, version=4)   # unique per key
            raw = json.dumps({"messageId": str(message_id), "text": "hola mundo"})
            return raw, {"Content-Type": "application/json", "Authorization": f"Bearer {signer(customer)}",
                         "X-Forwarded-For": f"10.{customer >> 16 & 255}.{customer >> 8 & 255}.{customer & 255}"}
        if self.kind == "messenger":
            psid = f"7{customer:015d}"
            raw = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
                "sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": 1,
                "message": {"mid": f"m_{key}", "text": "hola mundo"}}]}]}, separators=(",", ":"))
            return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signer(raw.encode())}
        form = {"MessageSid": f"SM{key}", "AccountSid": "AC" + "0" * 32, "From": f"whatsapp:+1555{customer:07d}",
                "To": f"whatsapp:{BUSINESS}", "Body": "hola mundo", "NumMedia": "0", "NumSegments": "1"}
        return urlencode(form), {"Content-Type": "application/x-www-form-urlencoded",
                                 "X-Twilio-Signature": signer.compute_signature(self.public_url, form)}


_TOKENS: dict[str, dict[int, tuple[str, int]]] = {}
RENEW_BEFORE = 120   # seconds before expiry: the widget renews its token ahead of time too


def _visitor_tokens(secret: str):
    """Visitor `customer`'s access token for the chat `secret` ("workspace/channelId/channelKey"):
    one per visitor for the whole run, renewed only near its expiry, as the widget keeps its token
    for its 15 minutes. (Minting new ones for every load made each round's sends the first of a new
    token on their instance, paying the full verification the token cache exists to save.)"""
    from utalk.auth import visitor_tokens
    ws, channel_id, key = secret.split("/")
    held = _TOKENS.setdefault(secret, {})

    def token(customer: int) -> str:
        current = held.get(customer)
        if current is None or current[1] - time.time() < RENEW_BEFORE:
            current = held[customer] = visitor_tokens.issue(visitor_tokens.Visitor(
                f"v{customer:032x}", ws, channel_id, key, False, 0))
        return current[0]
    return token


# -- load generation ------------------------------------------------------------------------------
def drive(target: Target, concurrency: int, seconds: float) -> dict:
    """Signed webhooks from the Python generator (bench/harness.py), every message id unique."""
    signer, run = target.signer(), uuid.uuid4().hex[:8]

    def make(rnd: random.Random, tag: str):
        body, headers = target.request(signer, f"{run}{tag}", rnd.randrange(target.customers))
        return "POST", target.path, body, headers

    return harness.drive(target.port, make, concurrency, seconds)


def drive_wrk(target: Target, concurrency: int, seconds: float) -> dict:
    """The same load from wrk (C, as ../shared/bench uses), replaying pre-signed requests, so the
    load generator takes far less of the two cores than the Python one."""
    import subprocess
    import tempfile

    signer = target.signer()
    run = uuid.uuid4().hex[:8]
    rnd = random.Random(run)
    count = int(max(2000, 1500 * seconds))  # above what 2 cores can serve in `seconds`
    threads = min(2, concurrency)
    with tempfile.NamedTemporaryFile("w", suffix=".reqs", delete=False) as f:
        for n in range(count):
            body, headers = target.request(signer, f"{run}n{n}", rnd.randrange(target.customers))
            f.write("".join(f"{headers[name]}\t" for name in target.replayed) + f"{body}\n")
        reqs = f.name
        sig_header = ",".join(target.replayed)
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
                              "--timeout", "30s", "-s", str(ROOT / "bench" / "inbound_replay.lua"),
                              f"http://127.0.0.1:{target.port}/"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "REQS_FILE": reqs, "REQ_PATH": target.path,
                                  "WRK_THREADS": str(threads), "SIG_HEADER": sig_header,
                                  "CONTENT_TYPE": headers["Content-Type"]})
    finally:
        os.unlink(reqs)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRKJSON "))
    r = json.loads(line[len("WRKJSON "):])
    failures = sum(r[k] for k in ("connect_err", "read_err", "write_err", "status_err", "timeout_err"))
    return {"requests": r["requests"], "failures": failures, "seconds": r["duration_us"] / 1e6,
            "rps": r["requests"] / (r["duration_us"] / 1e6),
            "p50": r["p50_us"] / 1000, "p95": r["p95_us"] / 1000, "p99": r["p99_us"] / 1000}


# -- servers --------------------------------------------------------------------------------------
def gunicorn(name: str, stack: Stack, port: int, app: str, env: dict, chdir: Path | None = None):
    argv = [str(VENV / "bin/gunicorn"), "-w", "2", "--threads", "8", "-b", f"127.0.0.1:{port}",
            "--graceful-timeout", "5", app]
    if chdir:
        argv[1:1] = ["--chdir", str(chdir)]
    proc = stack._spawn(name, argv, env={"PYTHONDONTWRITEBYTECODE": "1", **env})
    return proc


def setup_workspace() -> tuple[str, str, str, str]:
    """A workspace with a WhatsApp channel on BUSINESS, a Facebook Page PAGE (sandbox provider) and a
    web chat; returns (ws, the number's auth token, the Page's app secret, "ws/channelId/channelKey")."""
    from devstack.seed import create_workspace
    from utalk import clients
    from utalk.auth.tokens import Principal
    from utalk.channels import credentials
    from utalk.models.channels import CreateChannel
    from utalk.repositories.channels import ROUTES, route_key
    from utalk.services.channels import create_channel

    ws = f"ws_bench{uuid.uuid4().hex[:6]}"
    create_workspace(ws, "tenant_bench", "Bench")
    clients.firestore().collection(ROUTES).document(route_key("whatsapp", BUSINESS)).delete()
    clients.firestore().collection(ROUTES).document(route_key("facebook", PAGE)).delete()
    admin = Principal(user_id="bench", role="admin", workspace_id=ws, tenant_id="tenant_bench", expires_at=0)
    create_channel(admin, CreateChannel(name="bench", phoneNumber=BUSINESS, provider="sandbox"))
    create_channel(admin, CreateChannel(type="facebook", name="bench", pageId=PAGE, provider="sandbox"))
    web = create_channel(admin, CreateChannel(type="web", name="bench", allowedOrigins=["https://shop.example.com"]))
    # sandbox channels' default (local-only) credentials
    return (ws, credentials.SANDBOX_AUTH_TOKEN, credentials.SANDBOX_MESSENGER["appSecret"],
            f"{ws}/{web.id}/{web.channelKey}")


def create_topics() -> None:
    from google.api_core import exceptions

    from utalk import clients, manifest
    from utalk.config import settings

    pub = clients.publisher()
    for topic in manifest.TOPICS:
        try:
            pub.create_topic(name=pub.topic_path(settings().project_id, topic))
        except exceptions.AlreadyExists:
            pass


# -- Firestore operations per inbound message, counted --------------------------------------------
def count_operations(functions: list[tuple[str, Target]], messages: int = 50) -> dict:
    """Run each (function, target) in-process with the Firestore RPCs counted."""
    from functions_framework import create_app

    import logging

    logging.getLogger("utalk").setLevel(logging.WARNING)  # one log line per request is not the table
    ops = harness.FirestoreOps()
    run = uuid.uuid4().hex[:8]

    # Where the time goes (bench process only): the batch commit and the wait for the publishes.
    from utalk.repositories.messages import MessageRepository
    from utalk.services import inbound

    spent = {"commitMs": 0.0, "publishWaitMs": 0.0, "totalMs": 0.0}

    def timing(owner, attr, key):
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[key] += (time.perf_counter() - started) * 1000
        setattr(owner, attr, timed)

    timing(MessageRepository, "store", "commitMs")
    timing(inbound.pubsub, "wait", "publishWaitMs")

    def measured(app, target: Target, sends: list[tuple[int, int]]) -> dict:
        signer = target.signer()
        ops.reset()
        for k in spent:
            spent[k] = 0.0
        started = time.perf_counter()
        for i, customer in sends:
            body, headers = target.request(signer, f"ops{run}{i}", customer)
            resp = app.post(target.path, data=body, headers=headers)
            assert resp.status_code in (200, 201), resp.data
        spent["totalMs"] = (time.perf_counter() - started) * 1000
        return {**ops.per(len(sends)), **{k: v / len(sends) for k, v in spent.items()}}

    rows = {}
    for function, target in functions:
        app = create_app(function, str(ROOT / "functions" / "main.py")).test_client()
        customers = random.Random(run + function).sample(range(5_000_000, 9_999_999), 5)   # new every run
        rows[target.name] = {"new": measured(app, target, [(i, c) for i, c in enumerate(customers)]),
                             "existing": measured(app, target, [(100 + i, customers[i % 5]) for i in range(messages)])}
    return rows


# -- main -----------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,16,64")
    ap.add_argument("--seconds", type=float, default=12.0, help="per server and level, over all rounds")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per level")
    ap.add_argument("--warmup", type=float, default=2.0, help="per server before each level")
    ap.add_argument("--first-warmup", type=float, default=40.0,
                    help="per server at c=16 before the first level: the emulators' JIT warms up there")
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("UTALK_BENCH_PORT_OFFSET", "600")))
    ap.add_argument("--reuse", action="store_true", help="use emulators already running on the bench ports")
    ap.add_argument("--load", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                    help="load generator (default wrk when installed: apt-get install wrk)")
    ap.add_argument("--channels", default="whatsapp,messenger", help="which of our webhooks to load beside the floor")
    args = ap.parse_args()
    load = drive_wrk if args.load == "wrk" else drive
    if not (FLOOR_DIR / "main.py").exists():
        sys.exit(f"floor webhook not found at {FLOOR_DIR}")

    ports = Ports(**{k: v + args.port_offset for k, v in vars(TEST_PORTS).items()})
    stack = Stack(ports, project=PROJECT, env_name="test", state_dir=ROOT / ".devstack" / f"bench-{args.port_offset}",
                  rules=False)
    stack.apply_env()
    for fake in ("TWILIO_API_BASE_URL", "MESSENGER_GRAPH_BASE_URL"):   # sandbox channels call no provider
        os.environ.pop(fake, None)
    ours = {"whatsapp": ("utalk", "twilio_inbound", ports.gateway, PATH),
            "messenger": ("messenger", "messenger_inbound", ports.gateway + 51, MESSENGER_PATH),
            "webchat": ("webchat", "webchat_send", ports.gateway + 52, None)}   # path: the channel's, below
    chosen = [ours[c] for c in args.channels.split(",")]
    floor_port = ports.gateway + 50
    started_emulators = not (args.reuse and port_open(ports.firestore))
    busy = [p for p in (floor_port, *(c[2] for c in chosen)) + ((ports.firestore, ports.pubsub) if started_emulators
                                                                 else ()) if port_open(p)]
    if busy:  # never load somebody else's server by accident
        sys.exit(f"ports {busy} are in use; pick another --port-offset")
    try:
        if started_emulators:
            stack.start_emulators()
        create_topics()
        ws, token, app_secret, web = setup_workspace()
        chosen = [(n, f, p, path or f"/api/v1/webchat/{web.split('/')[2]}/messages") for n, f, p, path in chosen]
        for name, function, port, _ in chosen:
            gunicorn(name, stack, port, "devstack.function_app:app", {"UTALK_FUNCTION": function})
        gunicorn("floor", stack, floor_port, "wsgi:app", {"TARGET": "inbound_batch", "FLOOR_PROJECT": FLOOR_PROJECT},
                 chdir=FLOOR_DIR)
        for name, _, port, _ in chosen:
            stack._wait(name, lambda port=port: port_open(port))
        stack._wait("floor", lambda: port_open(floor_port))

        public = os.environ["UTALK_GATEWAY_URL"] + PATH
        kinds = {"utalk": ("whatsapp", token), "messenger": ("messenger", app_secret), "webchat": ("webchat", web)}
        servers = [Target("floor", floor_port, "/", "whatsapp", public, token)] + [
            Target(name, port, path, kinds[name][0], public, kinds[name][1]) for name, _, port, path in chosen]
        rows = []
        # Freshly started emulators run interpreted Java for their first tens of seconds of load,
        # and only ours uses the Pub/Sub emulator: without this, the first levels measure its JIT
        # (c=1 came out at 0.53-0.58x after 10 s of warm-up, 0.78x after 40 s).
        for target in servers:
            load(target, 16, args.first_warmup)
        for c in [int(x) for x in args.levels.split(",")]:
            for target in servers:
                load(target, c, args.warmup)
            # Interleaved rounds, rotating who goes first: this machine's speed drifts (other
            # tenants, JIT, GC in the emulators), and a drift must hit every server alike.
            runs = {t.name: [] for t in servers}
            for r in range(args.rounds):
                for target in servers[r % len(servers):] + servers[:r % len(servers)]:
                    runs[target.name].append(load(target, c, args.seconds / args.rounds))
                    print(f"  c={c:<3} round {r} {target.name:<9} {runs[target.name][-1]['rps']:8.1f} req/s",
                          file=sys.stderr, flush=True)
            rows += [(c, t.name, harness.combine(runs[t.name])) for t in servers]

        # After the load: its timings are of warm emulators.
        ops = count_operations([(function, next(t for t in servers if t.name == name))
                                for name, function, _, _ in chosen])
        print(f"\nInbound webhooks, gunicorn 2 workers x 8 threads, {args.seconds:.0f} s per server and level in "
              f"{args.rounds} interleaved rounds, {os.cpu_count()} cores shared with the load generator ({args.load})")
        print("req/s over all rounds; latency percentiles of the median round; ratio per round in brackets")
        print(f"{'conc':>4}  {'server':<9} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'fail':>5} "
              f"{'vs floor':>8}")
        floor = {}
        for c, name, r in rows:
            if name == "floor":
                floor[c] = r
            ratio = ""
            if name != "floor" and floor.get(c):
                rounds = " ".join(f"{a / b:.2f}" for a, b in zip(r["rounds"], floor[c]["rounds"]))
                ratio = f"{r['rps'] / floor[c]['rps']:.2f}x [{rounds}]"
            print(f"{c:>4}  {name:<9} {r['rps']:8.1f} {r['p50']:7.1f} {r['p95']:7.1f} {r['p99']:7.1f} "
                  f"{r['failures']:>5} {ratio:>8}")
        print("\nFirestore operations per inbound message (counted on the RPCs, in-process):")
        for name, by_kind in ops.items():
            for label, key in (("existing conversation", "existing"), ("first message of a conversation", "new")):
                o = by_kind[key]
                print(f"  {name:<9} {label:<32} reads {o['reads']:.2f}  writes {o['writes']:.2f}  queries "
                      f"{o['queries']:.2f}  transactions {o['transactions']:.2f}   time {o['totalMs']:.1f} ms = commit "
                      f"{o['commitMs']:.1f} + publish wait {o['publishWaitMs']:.1f} + rest "
                      f"{o['totalMs'] - o['commitMs'] - o['publishWaitMs']:.1f}")
        print("  (each first-message row runs first for its webhook, so it includes the two reads that fill the\n"
              "   instance's route cache, the route and the channel's sealed credentials: 2 over its 5 messages)")
        return 0
    finally:
        harness.stop(stack, "floor", *(c[0] for c in chosen))
        if started_emulators:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
