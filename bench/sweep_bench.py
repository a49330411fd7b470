"""What the auto-close sweep costs over a big workspace: time and Firestore operations (not a test).

    .venv/bin/python bench/sweep_bench.py [--conversations 50000] [--due 5000] [--page-size 100]

Starts a bench copy of the emulators (port offset 650 unless UTALK_TEST_PORT_OFFSET says otherwise),
seeds one workspace with `--conversations` conversations in batched writes: `--due` of them open
and idle past the default 30 days, a fifth of the rest closed long ago (never to be touched), the
others recently active. Then runs the `conversations_autoclose` job as Cloud Scheduler would (the
function's functions-framework app in-process, the invoker's OIDC token), delivering each
continuation it enqueues to the same app until the sweep says it is done; then a second run of
the next slot, which must close nothing ("looked at": the rows its query returned, "closed": what
it changed). Every Firestore RPC is counted at the client (documents
read, including each one a query returns; documents written; queries; transactions), as
bench/flow_costs.py counts them. The emulator is slower than Firestore and scans where Firestore
uses the index, so the operations are the figures to carry over; the time is this machine's.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]
os.environ.setdefault("UTALK_TEST_PORT_OFFSET", "650")

from bench.flow_costs import COUNTS, app, instrument  # noqa: E402
from devstack.stack import test_stack  # noqa: E402

WORKSPACE = "ws_sweepbench"
BATCH = 500
JOB = "conversations_autoclose"


def conv_id(i: int) -> str:
    return f"conv_+1555{i:07d}_+14155238886"


def seed(total: int, due: int) -> None:
    """The workspace and its conversations, `BATCH` writes per commit, four commits at a time."""
    from utalk import clients

    db = clients.firestore()
    ws = db.collection("workspaces").document(WORKSPACE)
    ws.set({"id": WORKSPACE, "name": "Sweep bench", "settings": {}})
    now, rng = datetime.now(timezone.utc), random.Random(13)
    closed = (total - due) // 5

    def row(i: int) -> tuple[str, dict]:
        if i < due:
            status, idle = rng.choice(("open", "open", "pending", "escalated")), rng.uniform(31, 400)
        elif i < due + closed:
            status, idle = "closed", rng.uniform(31, 400)
        else:
            status, idle = rng.choice(("open", "pending")), rng.uniform(0, 29)
        at = now - timedelta(days=idle)
        conv = conv_id(i)
        return conv, {"id": conv, "workspaceId": WORKSPACE, "channel": "whatsapp", "channelId": "ch_bench",
                      "status": status, "botEnabled": status in ("open", "pending"), "assignedAgent": None,
                      "customer": {"address": f"+1555{i:07d}"}, "messageCount": 3, "unreadCount": 0,
                      "lastMessageAt": at, "lastInboundAt": at, "createdAt": at - timedelta(hours=1),
                      "updatedAt": at}

    def commit(start: int) -> None:
        batch = db.batch()
        for i in range(start, min(start + BATCH, total)):
            conv, doc = row(i)
            batch.set(ws.collection("conversations").document(conv), doc)
        batch.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(commit, range(0, total, BATCH)))


def closed_now(total: int, due: int) -> dict[str, int]:
    """How many of the due, and of the others, are closed now (read by id: no query)."""
    from utalk import clients

    db = clients.firestore()
    col = db.collection(f"workspaces/{WORKSPACE}/conversations")
    found = {"due": 0, "others": 0}
    for start in range(0, total, BATCH):
        refs = {col.document(conv_id(i)).path: i for i in range(start, min(start + BATCH, total))}
        for snap in db.get_all([col.document(conv_id(i)) for i in refs.values()], field_paths=["status"]):
            if snap.get("status") == "closed":
                found["due" if refs[snap.reference.path] < due else "others"] += 1
    return found


def capture_tasks() -> list[bytes]:
    """The job's continuations, kept to be delivered here instead of by Cloud Tasks (no gateway)."""
    from utalk import clients

    kept: list[bytes] = []

    def create_task(parent, task):
        COUNTS[f"tasks to {task['http_request']['url'].rsplit('/', 1)[-1]}"] += 1
        kept.append(task["http_request"]["body"])
    clients.tasks().create_task = create_task
    return kept


def sweep(job, slot: str, page_size: int, budget: float | None, kept: list[bytes]) -> dict:
    """One scheduled run and its continuations; returns its row of the table."""
    from helpers import invoker_token

    COUNTS.clear()
    headers = {"Authorization": f"Bearer {invoker_token(JOB)}", "X-CloudScheduler-ScheduleTime": slot}
    body = {"pageSize": page_size, **({"budgetSeconds": budget} if budget is not None else {})}
    started, calls, processed, closed, pages = time.perf_counter(), 0, 0, 0, 0
    r = job.post("/", json=body, headers=headers)
    while True:
        calls += 1
        assert r.status_code == 200, r.get_data(as_text=True)
        result = r.get_json()
        processed, closed, pages = (processed + result["processed"], closed + result["started"],
                                    pages + result["pages"])
        if not kept:
            break
        r = job.post("/", data=kept.pop(0), headers={**headers, "Content-Type": "application/json"})
    return {"seconds": time.perf_counter() - started, "invocations": calls, "pages": pages,
            "looked at": processed, "closed": closed, **COUNTS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=50_000)
    ap.add_argument("--due", type=int, default=5_000)
    ap.add_argument("--page-size", type=int, default=100, help="the job's default page")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds per invocation before it continues in a task (default: half the timeout)")
    args = ap.parse_args()
    stack = test_stack()
    stack.apply_env()
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        stack.start_emulators()
        import logging

        from google.api_core.exceptions import AlreadyExists

        from utalk import clients, manifest
        from utalk.config import settings
        publisher = clients.publisher()
        for topic in manifest.TOPICS:   # topics without subscriptions: the events are published, then dropped
            try:
                publisher.create_topic(name=publisher.topic_path(settings().project_id, topic))
            except AlreadyExists:
                pass
        t = time.perf_counter()
        seed(args.conversations, args.due)
        seeded = time.perf_counter() - t
        logging.getLogger("utalk").setLevel(logging.ERROR)
        instrument()
        kept = capture_tasks()
        job = app(JOB)
        rows = {"first run": sweep(job, "2026-05-01T04:15:00Z", args.page_size, args.budget, kept),
                "next slot (nothing due)": sweep(job, "2026-05-01T05:15:00Z", args.page_size, args.budget, kept)}
        still = closed_now(args.conversations, args.due)
    finally:
        stack.stop()
    closed_before = (args.conversations - args.due) // 5
    print(f"seeded {args.conversations:,} conversations ({args.due:,} due, {closed_before:,} closed long ago) "
          f"in {seeded:.1f} s; page size {args.page_size}")
    columns = ["seconds", "invocations", "pages", "looked at", "closed", "firestore queries", "firestore reads",
               "firestore transactions", "firestore writes", "pubsub messages to realtime-events", "tasks to " + JOB]
    print(f"{'':26}" + "".join(f"{c.replace('firestore ', 'fs ').replace('pubsub messages to ', 'pub ')[:16]:>17}"
                                 for c in columns))
    for name, row in rows.items():
        print(f"{name:26}" + "".join(f"{row.get(c, 0):>17.1f}" if c == "seconds" else f"{row.get(c, 0):>17,}"
                                     for c in columns))
    first = rows["first run"]
    print(f"per closed conversation: {first.get('firestore reads', 0) / max(first['closed'], 1):.2f} reads, "
          f"{first.get('firestore writes', 0) / max(first['closed'], 1):.2f} writes; "
          f"closed after the runs: {still['due']:,} of {args.due:,} due, {still['others']:,} of the others "
          f"(the {closed_before:,} closed before)")
    return 0 if still == {"due": args.due, "others": closed_before} else 1


if __name__ == "__main__":
    sys.exit(main())
