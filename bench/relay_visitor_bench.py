"""Benchmark (not a test): web chat visitors plus agents on the relay, against Node's socket.io peer.

The mix of issue 18, on the machinery of bench/relay_bench.py (the same emulators, peer copy,
servers and harness): V visitor sockets (default 5,000) and A agent sockets (default 1,000) on one
server at once, each server in turn (the Node peer, then our relay with Redis, as deployed).
- Visitors carry a visitor token as the visitor API mints it (bench/mint_tokens.py --visitors),
  connect from the shop's Origin (bench/harness_origin.js) with the widget's `?channel=`, and are
  each alone in their conversation's visitor room. Their events are what the backend publishes for
  a bot's reply (bench/relay_visitor_adapter.js); the relay derives and emits the visitor's view.
- Agents carry access JWTs and sit in workspace rooms of 10, as in relay_bench.py.
- Both streams run at the same rate, E events each: every conversation event reaches its visitor
  and its workspace's agents. The peer gets the same shape: rooms of 1 and of 10, the same event
  counts and rate, the visitors' payload in the shape our relay emits (bench/peer_visitor_adapter.js).

The peer's harness puts all clients of a run in rooms of one size (client i in room i % R, event k
to room k % R), so the mix is two harness runs against the same server: one with R = V (rooms of
1), one with R = A/10. To measure memory per socket for each kind apart and still publish both
streams together, each harness is paused (SIGSTOP) as it reports its connect phase done (agents
first, then visitors), the server's RSS is read after each, and both are resumed at once (SIGCONT).

    .venv/bin/python bench/relay_visitor_bench.py [--visitors 5000 --agents 1000 --rate 50 --port-offset 900]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay_bench import (PEER_TOPIC, PROJECT, RELAY_TOPIC, ROOT, VENV, WORK, Server,  # noqa: E402
                         drop_relay_subscription, harness_argv, prepare_peer, print_table, relay_agent_args,
                         row, seed_bench_workspaces, start_bench_stack, start_peer, start_relay, warm_up)

SHOP = "bench-shop"                                         # the workspace whose web chat the visitors use
CHANNEL_KEY = "wk_" + hashlib.md5(SHOP.encode()).hexdigest()  # a fixed key of the real form (wk_ + 32 hex)
ORIGIN = "https://shop.bench.example"                       # the shop's site: not one of UTALK_CORS_ORIGINS
# Bench room k of the visitors' run is visitor k's id, about as long as a real one (`v` + 32 hex).
VISITOR_PREFIX = "v" + "0" * 28
# Each harness pauses this long after connecting before it reads RSS and publishes; it is stopped
# within it, and resumed after it has passed, so both go on at once.
SETTLE_MS = 3000


def seed_web_chat() -> None:
    """The shop's workspace and its web chat's route (allowed origins), as services/channels.py
    stores them; the shop's own agents are not connected: the agents' stream stands for them."""
    from google.cloud import firestore
    db = firestore.Client(project=PROJECT)
    db.document(f"workspaces/{SHOP}").set({"tenantId": "tenant_bench", "settings": {}})
    db.document(f"channelRoutes/web:{CHANNEL_KEY}").set(
        {"type": "web", "workspaceId": SHOP, "channelId": "ch_bench_web", "allowedOrigins": [ORIGIN]})


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Harness:
    """One harness/bench.js run in the background, paused between its connect and event phases."""

    def __init__(self, argv: list[str], env: dict, out: Path):
        self.out = out
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.connected = threading.Event()
        self.log: deque[str] = deque(maxlen=40)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line)
            # Stopped at once: the line is printed as its settle pause (SETTLE_MS) begins.
            if line.startswith("connected ") and not self.connected.is_set():
                os.kill(self.proc.pid, signal.SIGSTOP)
                self.connected.set()

    def wait_connected(self, timeout: float = 400) -> None:
        deadline = time.monotonic() + timeout
        while not self.connected.wait(0.5):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("harness did not connect:\n" + "".join(self.log))

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def result(self, timeout: float = 1000) -> dict:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        if code != 0:
            raise RuntimeError(f"harness exited {code}:\n" + "".join(self.log))
        return json.loads(self.out.read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()   # SIGKILL works on a stopped process too; its workers exit with it (IPC)
            self.proc.wait()


def visitor_env() -> dict:
    return {**os.environ, "NODE_OPTIONS": f"--require {ROOT / 'bench/harness_origin.js'}", "BENCH_ORIGIN": ORIGIN,
            "BENCH_VISITOR_WORKSPACE": SHOP, "BENCH_VISITOR_CHANNEL_KEY": CHANNEL_KEY}


def mixed_run(peer: Path, server: Server, label: str, args, agent_extra: list[str],
              visitor_extra: list[str]) -> tuple[dict, dict]:
    """Agents connect, then visitors; both streams are published together. Returns the two
    harness results with the server's memory per socket of each kind, read between the phases."""
    stamp = time.strftime("%H%M%S")
    # The emulator's CPU too: on a shared machine it is the first to starve, and it serves both streams.
    common = ["--settle-ms", str(SETTLE_MS), "--emulator-pid", str(args.emulator_pid)]
    runs = {}
    rss = [rss_kb(server.proc.pid)]
    try:
        for kind, clients, extra, env in (("agents", args.agents, agent_extra, dict(os.environ)),
                                          ("visitors", args.visitors, visitor_extra, visitor_env())):
            out = WORK / f"{label}-{kind}-{clients}-{stamp}.json"
            argv = harness_argv(peer, server, f"{label} {kind}", clients, args.events, args.rate, out,
                                [*common, *extra])
            print(f"  {label}: {clients} {kind} connecting ...", flush=True)
            runs[kind] = Harness(argv, env, out)
            runs[kind].wait_connected()
            time.sleep(SETTLE_MS / 1000 + 0.5)   # as the harness settles before it reads RSS
            rss.append(rss_kb(server.proc.pid))
        print(f"  {label}: {args.events} events to each kind at {args.rate}/s ...", flush=True)
        for h in runs.values():
            h.resume()
        agents, visitors = runs["agents"].result(), runs["visitors"].result()
    finally:
        for h in runs.values():
            h.kill()
    # Our own reads, one phase each: a harness's figure would count the other kind's sockets too.
    agents["server"]["rssPerConnKb"] = round((rss[1] - rss[0]) / max(1, agents["connect"]["ok"]), 2)
    visitors["server"]["rssPerConnKb"] = round((rss[2] - rss[1]) / max(1, visitors["connect"]["ok"]), 2)
    return agents, visitors


def feed_report(server: Server) -> None:
    """The relay's own count of what it pulled and emitted (its /health): tells a slow or stalled
    emulator (everything received, late) from events the relay lost or dropped."""
    try:
        with urllib.request.urlopen(f"{server.url}/health", timeout=30) as r:
            health = json.load(r)
    except urllib.error.HTTPError as exc:   # 503 while a feed is not pulling: the body says which
        health = json.load(exc)
    except OSError as exc:                  # a relay too busy to answer is a finding, not a crash
        print(f"  relay feed: /health did not answer ({exc!r})", flush=True)
        return
    print(f"  relay feed (warm-up included): {health.get('events')}, status {health.get('status')}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--visitors", type=int, default=5000)
    ap.add_argument("--agents", type=int, default=1000, help="in workspace rooms of 10")
    ap.add_argument("--events", type=int, default=0, help="events of each stream (default: one per visitor)")
    ap.add_argument("--rate", type=int, default=50, help="events published per second, each stream")
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("UTALK_BENCH_PORT_OFFSET", "900")),
                    help="added to the test ports for this bench's emulators")
    ap.add_argument("--repeat", type=int, default=1, help="alternate peer and relay runs this many times")
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()
    args.events = args.events or args.visitors
    # Each server holds V + A sockets, each harness process its share of clients.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * (args.visitors + args.agents))), hard))

    WORK.mkdir(parents=True, exist_ok=True)
    peer = prepare_peer()
    stack = start_bench_stack(args.port_offset)
    args.emulator_pid = stack.procs["pubsub"].pid
    token_cmd = f"{VENV / 'bin/python'} {ROOT / 'bench/mint_tokens.py'}"
    visitor_room = ["--rooms", str(args.visitors), "--room-prefix", VISITOR_PREFIX, "--event", "message",
                    "--query", json.dumps({"channel": CHANNEL_KEY})]
    rows: list[dict] = []

    def add(run: int, label: str, results: tuple[dict, dict]) -> None:
        for kind, clients, r in (("agents", args.agents, results[0]), ("visitors", args.visitors, results[1])):
            rows.append(row(f"{clients} {kind}", run, label, r))

    try:
        for run in range(1, args.repeat + 1):
            if not args.skip_peer:
                server = start_peer(stack, peer)
                try:
                    warm_up(PEER_TOPIC)
                    add(run, "node-peer", mixed_run(
                        peer, server, "node-peer", args, ["--topic", PEER_TOPIC],
                        ["--topic", PEER_TOPIC, *visitor_room,
                         "--adapter", str(ROOT / "bench/peer_visitor_adapter.js")]))
                finally:
                    server.stop()
            drop_relay_subscription()
            seed_bench_workspaces(args.agents)
            seed_web_chat()
            server = start_relay(stack, redis=True)
            try:
                warm_up(RELAY_TOPIC)
                add(run, "utalk-relay+redis", mixed_run(
                    peer, server, "utalk-relay+redis", args, relay_agent_args(),
                    ["--topic", RELAY_TOPIC, *visitor_room, "--join", "none",
                     "--adapter", str(ROOT / "bench/relay_visitor_adapter.js"), "--auth", '{"visitor": true}',
                     "--auth-token-cmd", f"{token_cmd} --visitors"]))
                feed_report(server)
            finally:
                server.stop()
                shutil.copyfile(server.log, WORK / f"relay-{run}-{time.strftime('%H%M%S')}.log")
            print_table(rows)
    finally:
        stack.stop()
    print(f"\nRaw harness results: {WORK}/*-agents-*.json, *-visitors-*.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
