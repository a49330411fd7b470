"""Where the relay's memory per connected socket goes (a measuring tool, not a test).

Runs the relay in this process (`relay.server.serve`, emulators from a bench copy of the stack),
connects N official socket.io-client sockets from a node process (bench/relay_hold.js, WebSocket
transport, tokens as in relay_bench.py), and prints the RSS delta per socket the way
relay_bench.py's harness reads it (VmRSS before/after, no forced collection), the same after a
full collection, and with --trace a tracemalloc diff grouped by allocating line and by package.

    .venv/bin/python bench/relay_memory.py --clients 2000 [--trace] [--port-offset 850]

tracemalloc itself costs memory per allocation, so read RSS from a run without --trace.
One socket connects and leaves before the baseline: what the first connect pays once per process
(the Firestore client's channel, opened by the first read of a workspace's agentVisibility) is
not a cost per socket. The bench workspaces get their documents as in relay_bench.py.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "realtime-relay"), str(ROOT / "shared"), str(ROOT), str(ROOT / "bench")]

from devstack.stack import TEST_PORTS, Ports, Stack, http_ok  # noqa: E402


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def type_counts() -> collections.Counter:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def package(filename: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    for mark in ("realtime-relay", "shared"):
        if mark in parts:
            return "/".join(parts[parts.index(mark) + 1:parts.index(mark) + 3])
    return "stdlib:" + Path(filename).stem if "python3" in filename else filename


def owner(traceback) -> str:
    """The first frame, from the allocating one outwards, that is not the standard library:
    a TimerHandle made by asyncio for engineio's ping belongs to engineio."""
    for fr in reversed(traceback):  # tracebacks run from the oldest frame to the allocating one
        pkg = package(fr.filename)
        if not pkg.startswith(("stdlib:", "<")) and fr.filename != __file__:
            return pkg
    return "stdlib:" + ",".join(sorted({package(fr.filename)[7:] for fr in traceback
                                        if package(fr.filename).startswith("stdlib:")} - {"runners", "events",
                                                                                          "base_events"}))[:60]


def report_trace(before, after, n: int, top: int) -> None:
    stats = after.compare_to(before, "traceback")
    total = sum(s.size_diff for s in stats)
    print(f"\ntracemalloc: {total / 1024 / n:.2f} KB per socket ({total / n:.0f} B), "
          f"{sum(s.count_diff for s in stats) / n:.1f} blocks per socket")
    by_owner, by_pkg, by_line = collections.Counter(), collections.Counter(), collections.Counter()
    for s in stats:
        inner = s.traceback[-1]
        by_owner[owner(s.traceback)] += s.size_diff
        by_pkg[package(inner.filename)] += s.size_diff
        by_line[f"{package(inner.filename)}:{Path(inner.filename).name}:{inner.lineno}"] += s.size_diff
    print("\nby owner, the first non-stdlib frame (B per socket):")
    for k, v in by_owner.most_common(top):
        print(f"  {v / n:8.0f}  {k}")
    print("\nby package of the allocating frame (B per socket):")
    for k, v in by_pkg.most_common(top):
        print(f"  {v / n:8.0f}  {k}")
    print("\nby allocating line (B per socket):")
    for k, v in by_line.most_common(top):
        print(f"  {v / n:8.0f}  {k}")
    print("\ntop tracebacks (B per socket, innermost first):")
    for s in sorted(stats, key=lambda s: -s.size_diff)[:top]:
        print(f"  {s.size_diff / n:8.0f}  {s.count_diff / n:5.1f} blocks")
        for fr in list(s.traceback)[::-1][:8]:
            print(f"            {package(fr.filename)}:{Path(fr.filename).name}:{fr.lineno}")


def connect_once(url: str, token: str) -> None:
    import socketio
    client = socketio.Client(reconnection=False)
    client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    client.disconnect()


async def run(args) -> None:
    from utalk.auth.tokens import issue_access_token
    from relay.config import config
    from relay.server import serve

    cfg = config()
    url = f"http://127.0.0.1:{cfg.port}"
    rooms = max(1, args.clients // 10)
    tokens = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    tokens.write("\n".join(issue_access_token(f"mem-u{i}", "agent", f"room-{i % rooms}", "tenant_bench")[0]
                           for i in range(args.clients)) + "\n")
    tokens.close()

    server = asyncio.ensure_future(serve(cfg))
    loop = asyncio.get_running_loop()
    for _ in range(300):
        if await loop.run_in_executor(None, http_ok, f"{url}/health"):
            break
        await asyncio.sleep(0.1)
    await loop.run_in_executor(None, connect_once, url, issue_access_token("mem-warm", "agent", "room-0",
                                                                          "tenant_bench")[0])
    await asyncio.sleep(1.0)
    if args.trace:
        tracemalloc.start(args.frames)
    gc.collect()
    rss0, blocks0, types0 = rss_kb(), sys.getallocatedblocks(), type_counts()
    snap0 = tracemalloc.take_snapshot() if args.trace else None

    modules = ROOT / ".devstack/bench/socketio-peer/harness/node_modules"
    hold = await asyncio.create_subprocess_exec(
        "node", str(ROOT / "bench/relay_hold.js"),
        json.dumps({"url": url, "tokensFile": tokens.name, "modules": str(modules),
                    "transports": args.transports.split(",")}),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    t0 = time.monotonic()
    line = (await hold.stdout.readline()).decode().split()
    ok = int(line[1])
    print(f"connected {ok} (failed {line[2]}) in {time.monotonic() - t0:.1f} s")
    await asyncio.sleep(1.5)  # the harness's settle time
    rss1 = rss_kb()
    gc.collect()
    rss2, blocks2 = rss_kb(), sys.getallocatedblocks()
    print(f"RSS {rss0} -> {rss1} KB: {(rss1 - rss0) / ok:.2f} KB/socket as the harness reads it; "
          f"after gc.collect {(rss2 - rss0) / ok:.2f} KB/socket")
    print(f"python blocks per socket {(blocks2 - blocks0) / ok:.1f}")
    diff = type_counts() - types0
    print("gc-tracked objects per socket: " + ", ".join(
        f"{k} {v / ok:.2f}" for k, v in diff.most_common(args.top) if v / ok >= 0.05))
    if args.trace:
        report_trace(snap0, tracemalloc.take_snapshot(), ok, args.top)
        tracemalloc.stop()
    hold.stdin.close()
    await hold.wait()
    os.kill(os.getpid(), signal.SIGTERM)
    await server
    os.unlink(tokens.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--trace", action="store_true", help="tracemalloc diff (inflates RSS)")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--transports", default="websocket")
    ap.add_argument("--redis", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("UTALK_BENCH_PORT_OFFSET", "850")))
    args = ap.parse_args()
    ports = Ports(**{k: v + args.port_offset for k, v in vars(TEST_PORTS).items()})
    stack = Stack(ports, project="utalk-bench", env_name="test",
                  state_dir=ROOT / ".devstack" / f"bench-{args.port_offset}", rules=False)
    stack.start_emulators()
    try:
        os.environ.update(stack.env())
        os.environ.update({"PORT": str(ports.relay), "LOG_LEVEL": "WARNING",
                           "RELAY_TOPIC": "mem-relay-events", "RELAY_SUBSCRIPTION": "mem-relay-events--relay"})
        if not args.redis:
            os.environ.pop("UTALK_REDIS_URL", None)
        from relay_bench import seed_bench_workspaces
        seed_bench_workspaces(args.clients)
        asyncio.run(run(args))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
