"""Benchmark (not a test): our inbound WhatsApp webhook against the floor webhook, same run.

Starts a bench copy of the local emulators (or reuses them with --reuse), creates a workspace with
a WhatsApp channel, then for each concurrency level drives signed Twilio-style inbound webhooks
(unique MessageSid, 1,000 customers at random, like ../shared/bench/floor-webhook/inbound.lua) for
--seconds against:
  floor : ../shared/bench/floor-webhook `inbound_batch` under gunicorn 2x8 (one batch, no read,
          no signature, no Pub/Sub) - the least work an inbound webhook can do;
  utalk : our twilio_inbound under gunicorn 2x8, as deployed (its own functions-framework app,
          devstack/function_app.py, no gateway): route (cached), signature check, one batch (message
          create + conversation merge), one Publish (message-received, carrying the realtime events).
Both use the same Firestore emulator. Topics exist but have no subscriptions, so the function is
measured alone (in production the bot and relay run in other instances).

The load comes from wrk replaying pre-signed requests (bench/inbound_replay.lua) when wrk is
installed, else from the pure-Python generator of bench/harness.py (processes x threads, keep-alive); either
shares the machine's cores with the servers, so compare the ratio, not absolute numbers. Firestore reads and
writes per inbound message are counted, not assumed: the same handler runs in-process with the
Firestore client's RPCs instrumented.

    .venv/bin/python bench/inbound_bench.py                      # c = 1, 16, 64; 12 s each in 3 rounds
    .venv/bin/python bench/inbound_bench.py --levels 16 --seconds 5
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from bench import harness  # noqa: E402
from devstack.stack import TEST_PORTS, VENV, Ports, Stack, http_ok, port_open  # noqa: E402

PROJECT = "utalk-bench"
FLOOR_PROJECT = "floor-bench"
FLOOR_DIR = ROOT.parent / "shared" / "bench" / "floor-webhook"
BUSINESS = "+14155238886"
PATH = "/webhooks/twilio/whatsapp"
NCONV = 1000


# -- load generation ------------------------------------------------------------------------------
def drive(port: int, path: str, public_url: str, token: str, concurrency: int, seconds: float) -> dict:
    """Signed inbound webhooks from the Python generator (bench/harness.py), every MessageSid unique."""
    from twilio.request_validator import RequestValidator

    validator, run = RequestValidator(token), uuid.uuid4().hex[:8]

    def make(rnd: random.Random, tag: str):
        form = {"MessageSid": f"SM{run}{tag}", "AccountSid": "AC" + "0" * 32,
                "From": f"whatsapp:+1555{rnd.randrange(NCONV):07d}", "To": f"whatsapp:{BUSINESS}",
                "Body": "hola mundo", "NumMedia": "0", "NumSegments": "1"}
        return "POST", path, urlencode(form), {"Content-Type": "application/x-www-form-urlencoded",
                                               "X-Twilio-Signature": validator.compute_signature(public_url, form)}

    return harness.drive(port, make, concurrency, seconds)


def drive_wrk(port: int, path: str, public_url: str, token: str, concurrency: int, seconds: float) -> dict:
    """The same load from wrk (C, as ../shared/bench uses), replaying pre-signed requests, so the
    load generator takes far less of the two cores than the Python one."""
    import json
    import subprocess
    import tempfile

    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    run = uuid.uuid4().hex[:8]
    rnd = random.Random(run)
    count = int(max(2000, 1500 * seconds))  # above what 2 cores can serve in `seconds`
    threads = min(2, concurrency)
    with tempfile.NamedTemporaryFile("w", suffix=".reqs", delete=False) as f:
        for n in range(count):
            form = {"MessageSid": f"SM{run}n{n}", "AccountSid": "AC" + "0" * 32,
                    "From": f"whatsapp:+1555{rnd.randrange(NCONV):07d}", "To": f"whatsapp:{BUSINESS}",
                    "Body": "hola mundo", "NumMedia": "0", "NumSegments": "1"}
            f.write(f"{validator.compute_signature(public_url, form)}\t{urlencode(form)}\n")
        reqs = f.name
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
                              "-s", str(ROOT / "bench" / "inbound_replay.lua"), f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "REQS_FILE": reqs, "REQ_PATH": path, "WRK_THREADS": str(threads)})
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


def setup_workspace() -> tuple[str, str]:
    """A workspace with a WhatsApp channel on BUSINESS (sandbox provider); returns (ws, token)."""
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
    create_channel(Principal(user_id="bench", role="admin", workspace_id=ws, tenant_id="tenant_bench",
                             expires_at=0), CreateChannel(name="bench", phoneNumber=BUSINESS, provider="sandbox"))
    return ws, credentials.SANDBOX_AUTH_TOKEN  # a sandbox channel's default (local-only) token


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
def count_operations(token: str, messages: int = 50) -> dict:
    """Run the twilio_inbound function in-process with the Firestore RPCs counted."""
    from functions_framework import create_app
    from twilio.request_validator import RequestValidator

    import logging

    from utalk.config import settings

    logging.getLogger("utalk").setLevel(logging.WARNING)  # one log line per request is not the table
    ops = harness.FirestoreOps()
    app = create_app("twilio_inbound", str(ROOT / "functions" / "main.py")).test_client()
    url = settings().public_base_url + PATH
    validator = RequestValidator(token)
    run = uuid.uuid4().hex[:8]

    def send(i: int, customer: str) -> None:
        form = {"MessageSid": f"SMops{run}{i}", "AccountSid": "AC" + "0" * 32, "From": f"whatsapp:{customer}",
                "To": f"whatsapp:{BUSINESS}", "Body": "hola", "NumMedia": "0"}
        resp = app.post(PATH, data=form, headers={"X-Twilio-Signature": validator.compute_signature(url, form)})
        assert resp.status_code == 200, resp.data

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

    def measured(sends: list[tuple[int, str]]) -> dict:
        ops.reset()
        for k in spent:
            spent[k] = 0.0
        started = time.perf_counter()
        for i, customer in sends:
            send(i, customer)
        spent["totalMs"] = (time.perf_counter() - started) * 1000
        return {**ops.per(len(sends)), **{k: v / len(sends) for k, v in spent.items()}}

    customers = [f"+1666{run[:4]}{i:03d}".replace("a", "1").replace("b", "2").replace("c", "3")
                 .replace("d", "4").replace("e", "5").replace("f", "6") for i in range(5)]
    new = measured([(i, c) for i, c in enumerate(customers)])
    existing = measured([(100 + i, customers[i % 5]) for i in range(messages)])
    return {"new": new, "existing": existing, "messages": messages}


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
    args = ap.parse_args()
    load = drive_wrk if args.load == "wrk" else drive
    if not (FLOOR_DIR / "main.py").exists():
        sys.exit(f"floor webhook not found at {FLOOR_DIR}")

    ports = Ports(**{k: v + args.port_offset for k, v in vars(TEST_PORTS).items()})
    stack = Stack(ports, project=PROJECT, env_name="test", state_dir=ROOT / ".devstack" / f"bench-{args.port_offset}",
                  rules=False)
    stack.apply_env()
    os.environ.pop("TWILIO_API_BASE_URL", None)
    floor_port, ours_port = ports.gateway + 50, ports.gateway
    started_emulators = not (args.reuse and port_open(ports.firestore))
    busy = [p for p in (floor_port, ours_port) + ((ports.firestore, ports.pubsub) if started_emulators else ())
            if port_open(p)]
    if busy:  # never load somebody else's server by accident
        sys.exit(f"ports {busy} are in use; pick another --port-offset")
    try:
        if started_emulators:
            stack.start_emulators()
        create_topics()
        ws, token = setup_workspace()
        gunicorn("gateway", stack, ours_port, "devstack.function_app:app", {"UTALK_FUNCTION": "twilio_inbound"})
        gunicorn("floor", stack, floor_port, "wsgi:app", {"TARGET": "inbound_batch", "FLOOR_PROJECT": FLOOR_PROJECT},
                 chdir=FLOOR_DIR)
        stack._wait("gateway", lambda: port_open(ours_port))
        stack._wait("floor", lambda: port_open(floor_port))

        public = os.environ["UTALK_GATEWAY_URL"] + PATH
        rows = []
        servers = [("floor", floor_port, "/"), ("utalk", ours_port, PATH)]
        # Freshly started emulators run interpreted Java for their first tens of seconds of load,
        # and only ours uses the Pub/Sub emulator: without this, the first levels measure its JIT
        # (c=1 came out at 0.53-0.58x after 10 s of warm-up, 0.78x after 40 s).
        for name, port, path in servers:
            load(port, path, public, token, 16, args.first_warmup)
        for c in [int(x) for x in args.levels.split(",")]:
            for name, port, path in servers:
                load(port, path, public, token, c, args.warmup)
            # Interleaved rounds, alternating who goes first: this machine's speed drifts (other
            # tenants, JIT, GC in the emulators), and a drift must hit both servers alike.
            runs = {name: [] for name, _, _ in servers}
            for r in range(args.rounds):
                for name, port, path in (servers if r % 2 == 0 else servers[::-1]):
                    runs[name].append(load(port, path, public, token, c, args.seconds / args.rounds))
                    print(f"  c={c:<3} round {r} {name:<6} {runs[name][-1]['rps']:8.1f} req/s", file=sys.stderr,
                          flush=True)
            rows += [(c, name, harness.combine(runs[name])) for name, _, _ in servers]

        ops = count_operations(token)  # after the load: its timings are of warm emulators
        print(f"\nInbound webhook, gunicorn 2 workers x 8 threads, {args.seconds:.0f} s per server and level in "
              f"{args.rounds} interleaved rounds, {os.cpu_count()} cores shared with the load generator ({args.load})")
        print("req/s over all rounds; latency percentiles of the median round; ratio per round in brackets")
        print(f"{'conc':>4}  {'server':<6} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'fail':>5} "
              f"{'vs floor':>8}")
        floor = {}
        for c, name, r in rows:
            if name == "floor":
                floor[c] = r
            ratio = ""
            if name == "utalk" and floor.get(c):
                rounds = " ".join(f"{a / b:.2f}" for a, b in zip(r["rounds"], floor[c]["rounds"]))
                ratio = f"{r['rps'] / floor[c]['rps']:.2f}x [{rounds}]"
            print(f"{c:>4}  {name:<6} {r['rps']:8.1f} {r['p50']:7.1f} {r['p95']:7.1f} {r['p99']:7.1f} "
                  f"{r['failures']:>5} {ratio:>8}")
        print("\nFirestore operations per inbound message (counted on the RPCs, in-process):")
        for label, key in (("existing conversation", "existing"), ("first message of a conversation", "new")):
            o = ops[key]
            print(f"  {label:<32} reads {o['reads']:.2f}  writes {o['writes']:.2f}  queries {o['queries']:.2f}  "
                  f"transactions {o['transactions']:.2f}   time {o['totalMs']:.1f} ms = commit "
                  f"{o['commitMs']:.1f} + publish wait {o['publishWaitMs']:.1f} + rest "
                  f"{o['totalMs'] - o['commitMs'] - o['publishWaitMs']:.1f}")
        print("  (the first-message row runs first in a fresh process, so it includes the two reads that fill\n"
              "   the instance's route cache, the route and the channel's sealed credentials: 2 over its 5 messages)")
        return 0
    finally:
        harness.stop(stack, "floor", "gateway")
        if started_emulators:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
