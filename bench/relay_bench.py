"""Benchmark (not a test): the UTalk relay against Node's socket.io peer, same machine, same run.

Starts the emulators (a bench copy of the local stack), copies ../shared/bench/socketio-peer
to .devstack/bench/ (the shared folder may be read-only) and installs it with `npm ci`, then for
each size runs the Node peer (one pull stream) and our relay (with Redis, as deployed) one after
the other, each driven by harness/bench.js: N official socket.io-client sockets in rooms of 10,
E events published to Pub/Sub at R/s. Our relay is driven the way it is used: a JWT per client
(bench/mint_tokens.py) that puts it in its workspace room (--join none), and our message format
(bench/relay_adapter.js). Prints publish-to-receipt latency, loss, deliveries/s, server memory per
socket, and our relay's ratio to the peer.

    .venv/bin/python bench/relay_bench.py --sizes 1000,10000 [--repeat 2] [--events 2000] [--no-redis]

With --repeat the peer and the relay alternate, each row compared with the peer run just before.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from devstack.stack import TEST_PORTS, VENV, Ports, Stack, http_ok  # noqa: E402

PEER_SRC = Path(os.environ.get("UTALK_BENCH_PEER_DIR", ROOT.parent / "shared" / "bench" / "socketio-peer"))
WORK = ROOT / ".devstack" / "bench"
PROJECT = "utalk-bench"
PEER_TOPIC, RELAY_TOPIC = "bench-peer-events", "bench-relay-events"
RELAY_SUBSCRIPTION = f"{RELAY_TOPIC}--relay"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_peer() -> Path:
    """A writable copy of the peer and harness with their node_modules (npm ci from the lockfiles)."""
    dest = WORK / "socketio-peer"
    for part in ("peer-node", "harness"):
        src, dst = PEER_SRC / part, dest / part
        changed = not (dst / "package-lock.json").exists() or \
            (src / "package-lock.json").read_bytes() != (dst / "package-lock.json").read_bytes()
        shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("node_modules"),
                        copy_function=shutil.copyfile)
        for path in [dst, *dst.rglob("*")]:
            if "node_modules" not in path.parts:
                path.chmod(path.stat().st_mode | 0o200)  # copies of read-only files stay editable
        if changed or not (dst / "node_modules").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=dst, check=True)
    return dest


class Server:
    """A benchmarked server process (its own pid: the harness reads its RSS from /proc)."""

    def __init__(self, name: str, argv: list[str], env: dict, port: int, log: Path):
        self.name, self.port, self.url = name, port, f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.log = log

    def wait_ready(self, ready, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-2000:]}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_bench_stack(port_offset: int) -> Stack:
    """The bench's own emulators (the test ports plus `port_offset`), its environment in os.environ."""
    ports = Ports(**{k: v + port_offset for k, v in vars(TEST_PORTS).items()})
    stack = Stack(ports, project=PROJECT, env_name="test", state_dir=ROOT / ".devstack" / f"bench-{port_offset}",
                  rules=False)
    stack.start_emulators()
    os.environ.update(stack.env())
    return stack


def start_peer(stack: Stack, peer: Path) -> Server:
    port = free_port()
    env = {**os.environ, **stack.env(), "PUBSUB_PROJECT_ID": PROJECT, "PUBSUB_STREAMS": "1", "PORT": str(port),
           "HOST": "127.0.0.1", "TOPIC": PEER_TOPIC, "SUBSCRIPTION": "bench-peer-node"}
    server = Server("peer-node", ["node", str(peer / "peer-node" / "server.js")], env, port,
                    stack.state_dir / "peer-node.log")
    server.wait_ready(lambda: "READY" in server.log.read_text())
    return server


def start_relay(stack: Stack, redis: bool) -> Server:
    port = free_port()
    env = {**os.environ, **stack.env(), "PORT": str(port), "RELAY_TOPIC": RELAY_TOPIC,
           "RELAY_SUBSCRIPTION": RELAY_SUBSCRIPTION, "LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "realtime-relay"), str(ROOT / "shared")])}
    if not redis:
        env.pop("UTALK_REDIS_URL", None)
    server = Server("relay", [str(VENV / "bin/python"), "-m", "relay.server"], env, port,
                    stack.state_dir / "relay.log")
    server.wait_ready(lambda: http_ok(f"{server.url}/health"))
    return server


def seed_bench_workspaces(clients: int) -> None:
    """The bench rooms' workspace documents (the harness's default of clients/10 rooms, `room-k`),
    with the default visibility: agents see every conversation, so the relay puts each bench agent
    in its workspace room (relay/visibility.py; a workspace without a document limits its agents)."""
    from google.cloud import firestore
    db = firestore.Client(project=PROJECT)
    batch = db.batch()
    for k in range(max(1, clients // 10)):
        batch.set(db.document(f"workspaces/room-{k}"), {"tenantId": "tenant_bench", "settings": {}})
        if (k + 1) % 400 == 0:
            batch.commit()
            batch = db.batch()
    batch.commit()


def drop_relay_subscription() -> None:
    """A fresh subscription per run: no backlog from an earlier (aborted) run."""
    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1
    sub = pubsub_v1.SubscriberClient()
    try:
        sub.delete_subscription(subscription=sub.subscription_path(PROJECT, RELAY_SUBSCRIPTION))
    except gexc.NotFound:
        pass
    sub.close()


def warm_up(topic: str, seconds: float = 3.0, rate: int = 100) -> None:
    """Publish to a room nobody is in at the bench rate for a few seconds before measuring: the
    emulator's (JVM) paths for a fresh topic and subscription, and the server's own first-use code
    paths, are warm for both servers alike, so the first measured second is not a cold start."""
    from google.cloud import pubsub_v1
    pub = pubsub_v1.PublisherClient()
    path = pub.topic_path(PROJECT, topic)
    futures = []
    for k in range(int(seconds * rate)):
        data = {"id": f"warmup-{time.time_ns()}-{k}", "event": "warmup", "workspaceId": "warmup",
                "occurredAt": "", "payload": {}}
        futures.append(pub.publish(path, json.dumps(data).encode(), room="warmup", event="warmup",
                                   workspaceId="warmup", audience="workspace"))
        time.sleep(1 / rate)
    for f in futures:
        f.result(timeout=30)
    time.sleep(1.0)


def harness_argv(peer: Path, server: Server, label: str, clients: int, events: int, rate: int, out: Path,
                 extra: list[str]) -> list[str]:
    """harness/bench.js against `server`, its JSON result written to `out`."""
    return ["node", str(peer / "harness" / "bench.js"), "--url", server.url, "--clients", str(clients),
            "--events", str(events), "--rate", str(rate), "--server-pid", str(server.proc.pid),
            "--label", label, "--project", PROJECT, "--out", str(out), "--max-seconds", "900", *extra]


def relay_agent_args() -> list[str]:
    """How the harness drives our relay's agents: a JWT per client that puts it in its workspace
    room (bench room k = workspace `room-k`), and our message format."""
    token_cmd = f"{VENV / 'bin/python'} {ROOT / 'bench/mint_tokens.py'}"
    return ["--topic", RELAY_TOPIC, "--join", "none", "--adapter", str(ROOT / "bench/relay_adapter.js"),
            "--auth-token-cmd", token_cmd]


def run_harness(peer: Path, server: Server, label: str, clients: int, args, extra: list[str]) -> dict:
    out = WORK / f"{label}-{clients}-{time.strftime('%H%M%S')}.json"
    argv = harness_argv(peer, server, label, clients, args.events, args.rate, out, ["--json", *extra])
    print(f"  {label}: {clients} sockets, {args.events} events at {args.rate}/s ...", flush=True)
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=1000,
                   env={**os.environ, "PUBSUB_EMULATOR_HOST": os.environ["PUBSUB_EMULATOR_HOST"]})
    return json.loads(out.read_text())


def row(size: int, run: int, label: str, r: dict) -> dict:
    lat, d = r["latencyMs"], r["delivery"]
    return {"sockets": size, "run": run, "server": label, "connected": r["connect"]["ok"], "p50": lat.get("p50"),
            "p95": lat.get("p95"), "p99": lat.get("p99"), "max": lat.get("max"), "loss%": d["lossPct"],
            "dup": d["duplicates"], "deliv/s": r["throughput"]["deliveriesPerS"],
            "KB/socket": r["server"]["rssPerConnKb"], "cpu%": r["server"]["cpuPctEventPhase"],
            # How loaded the machine and the emulator were during this run: shared boxes are noisy,
            # and a slow publish ack means the emulator itself was starved, not the server.
            "pub-ack p95": r["publishAckMs"]["p95"], "emu%": r["emulator"]["cpuPctEventPhase"],
            "machine%": r["machine"]["cpuPctEventPhase"]}


def print_table(rows: list[dict]) -> None:
    cols = ["sockets", "run", "server", "connected", "p50", "p95", "p99", "max", "loss%", "dup", "deliv/s",
            "KB/socket", "cpu%", "pub-ack p95", "emu%", "machine%", "p95 ratio", "mem ratio"]
    by = {(r["sockets"], r["run"], r["server"]): r for r in rows}
    for r in rows:
        peer = by.get((r["sockets"], r["run"], "node-peer"))
        ratio = lambda k: (f"{r[k] / peer[k]:.2f}x" if peer and peer[k] and r[k] is not None else "")  # noqa: E731
        r["p95 ratio"], r["mem ratio"] = ratio("p95"), ratio("KB/socket")
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    print("| " + " | ".join(c.ljust(widths[c]) for c in cols) + " |")
    print("|" + "|".join("-" * (widths[c] + 2) for c in cols) + "|")
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="socket counts, comma separated")
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--rate", type=int, default=100, help="events published per second")
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("UTALK_BENCH_PORT_OFFSET", "700")),
                    help="added to the test ports for this bench's emulators")
    ap.add_argument("--no-redis", action="store_true", help="run the relay without the Redis manager")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="alternate peer and relay runs this many times per size")
    args = ap.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    peer = prepare_peer()
    stack = start_bench_stack(args.port_offset)
    rows: list[dict] = []
    relay_label = "utalk-relay" + ("" if args.no_redis else "+redis")
    try:
        for size, run in [(int(s), k + 1) for s in args.sizes.split(",") if s for k in range(args.repeat)]:
            if not args.skip_peer:
                server = start_peer(stack, peer)
                try:
                    warm_up(PEER_TOPIC)
                    rows.append(row(size, run, "node-peer", run_harness(peer, server, "node-peer", size, args,
                                                                   ["--topic", PEER_TOPIC])))
                finally:
                    server.stop()
            drop_relay_subscription()
            seed_bench_workspaces(size)
            server = start_relay(stack, redis=not args.no_redis)
            try:
                warm_up(RELAY_TOPIC)
                rows.append(row(size, run, relay_label, run_harness(peer, server, relay_label, size, args,
                                                                    relay_agent_args())))
            finally:
                server.stop()
            print_table(rows)
    finally:
        stack.stop()
    print(f"\nRaw harness results: {WORK}/*.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
