"""Benchmark (not a test): what evaluating a feature flag costs a request, in the same run.

Starts a bench copy of the emulators (--port-offset), defines a flag (overridable, 50 %) with an
override in one of --workspaces workspaces, then times in-process, over those workspaces in turn:
  floor    : one Firestore read of the flag's definition (what a flag check without a cache costs);
  uncached : `flags.is_on` with the cache off (UTALK_FLAGS_CACHE_SECONDS=0: definitions + overrides
             queried each call);
  cached   : `flags.is_on` as deployed (5 s cache), after one warm pass.
Firestore operations per call are counted on the client's RPCs, not assumed; usage counting is on,
flushed every 60 s as deployed (a flush is one batch: the bench's run may include none or one).

    .venv/bin/python bench/flags_bench.py --port-offset 700
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from bench import harness  # noqa: E402
from devstack.stack import TEST_PORTS, Ports, Stack, port_open  # noqa: E402

KEY = "bench.flag"


def timed(fn, calls: int, workspaces: list[str], ops) -> dict:
    ops.reset()
    lat = []
    for i in range(calls):
        started = time.perf_counter()
        fn(workspaces[i % len(workspaces)])
        lat.append((time.perf_counter() - started) * 1e6)
    lat.sort()
    return {**ops.per(calls), "p50": lat[len(lat) // 2], "p95": lat[int(0.95 * len(lat))]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2000, help="per variant (the floor and uncached: a tenth)")
    ap.add_argument("--workspaces", type=int, default=50)
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("UTALK_BENCH_PORT_OFFSET", "700")))
    args = ap.parse_args()

    ports = Ports(**{k: v + args.port_offset for k, v in vars(TEST_PORTS).items()})
    stack = Stack(ports, project="utalk-bench", env_name="test", state_dir=ROOT / ".devstack" / f"bench-{args.port_offset}",
                  rules=False)
    stack.apply_env()
    os.environ.update(UTALK_FLAGS_CACHE_SECONDS="5", UTALK_FLAGS_FLUSH_SECONDS="60")
    if port_open(ports.firestore):
        sys.exit(f"port {ports.firestore} is in use; pick another --port-offset")
    try:
        stack.start_emulators()
        from utalk import clients, flags
        from utalk.repositories import flags as repo
        from utalk.services import flags as service

        workspaces = [f"ws_bench{uuid.uuid4().hex[:8]}" for _ in range(args.workspaces)]
        service.define(KEY, description="bench", percent=50, overridable=True, operator="bench")
        clients.firestore().collection("workspaces").document(workspaces[0]).collection(repo.OVERRIDES) \
            .document(KEY).set({"key": KEY, "enabled": True})
        ops = harness.FirestoreOps()
        few = max(1, args.calls // 10)
        rows = {"floor": timed(lambda ws: repo.definition(KEY), few, workspaces, ops)}
        flags.CACHE_SECONDS = 0
        rows["uncached"] = timed(lambda ws: flags.is_on(KEY, ws, "tenant_bench"), few, workspaces, ops)
        flags.CACHE_SECONDS = 5.0
        for ws in workspaces:   # warm: each workspace's overrides loaded once
            flags.is_on(KEY, ws, "tenant_bench")
        rows["cached"] = timed(lambda ws: flags.is_on(KEY, ws, "tenant_bench"), args.calls, workspaces, ops)
        on = sum(flags.is_on(KEY, ws, "tenant_bench") for ws in workspaces)

        print(f"\nflags.is_on over {args.workspaces} workspaces (flag at 50 %, {on} of them on), in-process against "
              f"the Firestore emulator, {os.cpu_count()} cores shared")
        print(f"{'variant':<9} {'calls':>6} {'p50 us':>9} {'p95 us':>9} {'x floor p50':>11} {'reads':>6} {'queries':>8}"
              f" {'commits':>8}")
        for name, r in rows.items():
            calls = args.calls if name == "cached" else few
            print(f"{name:<9} {calls:>6} {r['p50']:9.1f} {r['p95']:9.1f} {r['p50'] / rows['floor']['p50']:11.4f} "
                  f"{r['reads']:6.2f} {r['queries']:8.2f} {r['commits']:8.3f}")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
