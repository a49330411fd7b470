"""Benchmark (not a test): what the rate limiter adds to an authenticated route, same run.

Starts a bench copy of the local emulators (or reuses them with --reuse), creates a workspace with
--users users (so the load stays under each user's 100/min and every request is admitted: what is
measured is the limiter's cost, not its refusals), then for each concurrency level drives
`GET /api/v1/auth/me` (bearer token of a random user) for --seconds against:
  off : auth_me under gunicorn 2x8 with an empty limits table (`unlimited_app()`, bench only);
  on  : auth_me under gunicorn 2x8 as deployed (devstack/function_app.py): the per-user limit.
Both on the same Firestore emulator, in interleaved rounds. Firestore operations per request are
counted, not assumed: both variants run in-process with the Firestore client's RPCs instrumented.

    .venv/bin/python bench/limiter_bench.py                 # c = 1, 16; 8 s per server and level
    .venv/bin/python bench/limiter_bench.py --levels 16 --seconds 4 --port-offset 400
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
from devstack.stack import TEST_PORTS, VENV, Ports, Stack, port_open  # noqa: E402

PROJECT = "utalk-bench"
PATH = "/api/v1/auth/me"


def unlimited_app():
    """auth_me with an empty limits table: the baseline (gunicorn 'bench.limiter_bench:unlimited_app()')."""
    from utalk import limits

    limits.plan = lambda name, path, authenticated: ()
    from devstack.gateway import function_app
    return function_app("auth_me")


# -- load generation ------------------------------------------------------------------------------
def drive(port: int, tokens: list[str], concurrency: int, seconds: float) -> dict:
    """The route with a random user's bearer token per request (bench/harness.py)."""
    return harness.drive(port, lambda rnd, tag: ("GET", PATH, None, {"Authorization": f"Bearer {rnd.choice(tokens)}"}),
                      concurrency, seconds)


# -- setup ----------------------------------------------------------------------------------------
def setup_users(n: int) -> list[str]:
    """A workspace with n agents written straight to Firestore (no password: tokens are minted)."""
    from devstack.seed import create_workspace
    from utalk import clients
    from utalk.auth.tokens import issue_access_token
    from utalk.repositories.users import UserRepository

    ws, tenant = f"ws_bench{uuid.uuid4().hex[:6]}", "tenant_bench"
    create_workspace(ws, tenant, "Bench")
    repo, db, tokens = UserRepository(ws), clients.firestore(), []
    for start in range(0, n, 200):
        batch = db.batch()
        for i in range(start, min(n, start + 200)):
            uid = f"bench-{i}-{uuid.uuid4().hex[:6]}"
            batch.set(repo.users.document(uid), {"id": uid, "email": f"{uid}@example.com", "name": "", "role": "agent",
                                                 "workspaceId": ws, "tenantId": tenant, "status": "active"})
            batch.set(repo.agents.document(uid), {"userId": uid, "status": "offline", "maxConversations": 10,
                                                  "currentConversations": 0, "skills": []})
            tokens.append(issue_access_token(uid, "agent", ws, tenant)[0])
        batch.commit()
    return tokens


def count_operations(tokens: list[str], requests: int = 100) -> dict:
    """Both variants in-process, the Firestore RPCs counted, sequential (c=1) latency timed."""
    import logging

    import flask

    from utalk import http, limits

    logging.getLogger("utalk").setLevel(logging.WARNING)
    sys.path.insert(0, str(ROOT / "functions"))
    import api_auth

    original = limits.plan
    limits.plan = lambda name, path, authenticated: ()
    variants = {"off": http.endpoint("auth_me")(api_auth.me.handler), "on": api_auth.me}
    limits.plan = original

    ops = harness.FirestoreOps()
    app, out = flask.Flask("limiter_bench", root_path=str(ROOT)), {}
    for label in ("off", "on", "off", "on"):  # twice each, alternating: the second pass is the warm one
        entry = variants[label]
        ops.reset()
        lat = []
        for i in range(requests):
            with app.test_request_context(PATH, headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"}):
                started = time.perf_counter()
                resp = entry(flask.request)
                lat.append((time.perf_counter() - started) * 1000)
                assert resp.status_code == 200, resp.get_data()
        lat.sort()
        out[label] = {**ops.per(requests), "p50": lat[len(lat) // 2], "p95": lat[int(0.95 * len(lat))]}
    return out


# -- main -----------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,16")
    ap.add_argument("--seconds", type=float, default=8.0, help="per server and level, over all rounds")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds per level")
    ap.add_argument("--warmup", type=float, default=3.0, help="per server before the first level")
    ap.add_argument("--users", type=int, default=1000, help="distinct callers (each stays under 100/min)")
    ap.add_argument("--port-offset", type=int, default=int(os.environ.get("UTALK_BENCH_PORT_OFFSET", "600")))
    ap.add_argument("--reuse", action="store_true", help="use emulators already running on the bench ports")
    args = ap.parse_args()

    ports = Ports(**{k: v + args.port_offset for k, v in vars(TEST_PORTS).items()})
    stack = Stack(ports, project=PROJECT, env_name="test", state_dir=ROOT / ".devstack" / f"bench-{args.port_offset}",
                  rules=False)
    stack.apply_env()
    off_port, on_port = ports.gateway + 7, ports.gateway
    started_emulators = not (args.reuse and port_open(ports.firestore))
    busy = [p for p in (off_port, on_port) + ((ports.firestore,) if started_emulators else ()) if port_open(p)]
    if busy:
        sys.exit(f"ports {busy} are in use; pick another --port-offset")
    try:
        if started_emulators:
            stack.start_emulators()
        tokens = setup_users(args.users)
        common = [str(VENV / "bin/gunicorn"), "-w", "2", "--threads", "8", "--graceful-timeout", "5"]
        stack._spawn("gateway", common + ["-b", f"127.0.0.1:{on_port}", "devstack.function_app:app"],
                     env={"UTALK_FUNCTION": "auth_me"})
        stack._spawn("unlimited", common + ["-b", f"127.0.0.1:{off_port}", "bench.limiter_bench:unlimited_app()"])
        stack._wait("gateway", lambda: port_open(on_port))
        stack._wait("unlimited", lambda: port_open(off_port))
        servers = [("off", off_port), ("on", on_port)]
        # Per-user load at the end of a level: requests / users, well under 100 a minute each.
        for _, port in servers:
            drive(port, tokens, 16, args.warmup)
        rows = []
        for c in [int(x) for x in args.levels.split(",")]:
            runs = {name: [] for name, _ in servers}
            for r in range(args.rounds):
                for name, port in (servers if r % 2 == 0 else servers[::-1]):
                    runs[name].append(drive(port, tokens, c, args.seconds / args.rounds))
                    print(f"  c={c:<3} round {r} limiter {name:<3} {runs[name][-1]['rps']:8.1f} req/s",
                          file=sys.stderr, flush=True)
            rows += [(c, name, harness.combine(runs[name])) for name, _ in servers]
        ops = count_operations(tokens)

        print(f"\nGET {PATH} (auth_me), gunicorn 2 workers x 8 threads, {args.seconds:.0f} s per server and level "
              f"in {args.rounds} interleaved rounds, {args.users} users, {os.cpu_count()} cores shared with the "
              f"Python load generator")
        print(f"{'conc':>4}  {'limiter':<7} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'fail':>5}")
        for c, name, r in rows:
            print(f"{c:>4}  {name:<7} {r['rps']:8.1f} {r['p50']:7.1f} {r['p95']:7.1f} {r['p99']:7.1f} "
                  f"{r['failures']:>5}")
        print("\nFirestore operations per request (counted on the RPCs, in-process, sequential):")
        for name in ("off", "on"):
            o = ops[name]
            print(f"  limiter {name:<3}  reads {o['reads']:.2f}  writes {o['writes']:.2f}  commits {o['commits']:.2f}  "
                  f"queries {o['queries']:.2f}   p50 {o['p50']:.2f} ms  p95 {o['p95']:.2f} ms")
        by = {(c, name): r for c, name, r in rows}
        for c in sorted({c for c, _, _ in rows}):
            print(f"  added at c={c}: p95 {by[(c, 'on')]['p95'] - by[(c, 'off')]['p95']:+.1f} ms, "
                  f"req/s {by[(c, 'on')]['rps'] / by[(c, 'off')]['rps']:.2f}x")
        return 0
    finally:
        harness.stop(stack, "unlimited", "gateway")
        if started_emulators:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
