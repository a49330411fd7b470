"""What one analytics report costs for a busy workspace: 50,000 conversations and 1,000,000
messages over 90 days (docs/analytics.md).

    .venv/bin/python bench/analytics_bench.py --port-offset 700 [--days 90] [--sample 20000] [--messages 3]

Starts the test Firestore emulator and writes the counter documents the recording leaves for that
workload: per day, 16 shards for each of 3 channels plus one document per active agent (20),
holding the figures 50,000 conversations produce (this is the document count the reports read,
whatever the figures). Customer messages are real message documents, `--sample` of them spread
over the days (the emulator cannot hold a million quickly); each report's `count()` bills one read
per 1,000 index entries, so the billed reads for 1,000,000 are computed from the query count.
Then each report is called through the service (in-process) with the Firestore RPCs counted
(`bench/flow_costs.instrument`) and timed, before and after the compaction job folded the days'
shards into rollups (services/analytics_compaction.py, its own pages and steps, in-process).

Last, the write amplification: one conversation played through the chain as `bench/flow_costs.py`
does (signed webhook, bot_dispatch push, bot_run task, sender push, status callbacks; its last
message asks for a person, so the bot escalates), with the Firestore reads and writes made inside
the analytics recording counted apart from the rest of each step.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT), str(ROOT / "bench")]

from devstack.stack import test_stack  # noqa: E402

CONVERSATIONS, MESSAGES, AGENTS, CHANNELS = 50_000, 1_000_000, 20, ("whatsapp", "facebook", "web")


def seed_counters(ws: str, days: list[date]) -> int:
    from utalk.repositories.analytics import SHARDS, nested
    from utalk.repositories.base import WorkspaceScope
    from utalk.services.analytics import duration

    scope = WorkspaceScope(ws)
    col, batch, written = scope.collection("analyticsDaily"), scope.db.batch(), 0
    per_day = CONVERSATIONS / len(days)
    for day in days:
        docs = [(f"{day}~{ch}~-~{s}", ch, "") for ch in CHANNELS for s in range(SHARDS)]
        docs += [(f"{day}~whatsapp~agent{a:02d}~0", "whatsapp", f"agent{a:02d}") for a in range(AGENTS)]
        for doc_id, channel, agent in docs:
            share = per_day / (SHARDS * len(CHANNELS))
            fields = {"opened": share, "closed": share, "contained": share * 0.7, "escalations": share * 0.3,
                      "out": {"bot": share * 8}, **nested(duration("frt_in", random.uniform(1, 30))),
                      "bot": {"runs": share * 8, "tokensIn": share * 4000, "tokensOut": share * 400,
                              "costUsd": share * 0.001, "latencyMs": share * 8000},
                      "model": {"gpt-4o-mini": {"runs": share * 8}}}
            if agent:
                fields = {"offers": 5, "accepted": 4, "rejected": 1, "out": {"agent": 60},
                          **nested(duration("fhrt", random.uniform(10, 600))),
                          **nested(duration("queue", random.uniform(5, 300)))}
            batch.set(col.document(doc_id), {"day": day.isoformat(), "channel": channel, "agent": agent,
                                             "kind": "shard", **fields})
            written += 1
            if written % 400 == 0:
                batch.commit()
                batch = scope.db.batch()
    batch.commit()
    for a in range(AGENTS):
        scope.collection("agents").document(f"agent{a:02d}").set({"status": "online", "maxConversations": 10,
                                                                   "currentConversations": random.randint(0, 10)})
    return written


def seed_messages(ws: str, days: list[date], sample: int) -> None:
    from utalk.repositories.base import WorkspaceScope

    scope = WorkspaceScope(ws)
    start = datetime.combine(days[0], datetime.min.time(), timezone.utc)
    span = (len(days) * 86400)
    batch = scope.db.batch()
    for i in range(sample):
        conv = f"conv_{i % 500}"
        at = start + timedelta(seconds=random.uniform(0, span))
        ref = scope.collection("conversations").document(conv).collection("messages").document(f"msg_{uuid.uuid4()}")
        batch.set(ref, {"workspaceId": ws, "senderType": "customer", "channel": random.choice(CHANNELS),
                        "createdAt": at, "direction": "inbound"})
        if (i + 1) % 400 == 0:
            batch.commit()
            batch = scope.db.batch()
    batch.commit()


def count_analytics() -> None:
    """Attribute the Firestore ops made inside the analytics recording (utalk.services.analytics)
    to `analytics reads` / `analytics writes` of the step (flow_costs.COUNTS)."""
    from flow_costs import COUNTS

    from utalk.services import analytics

    depth = [0]

    def wrap(fn):
        def counted(*args, **kwargs):
            depth[0] += 1
            reads, writes = COUNTS["firestore reads"], COUNTS["firestore writes"]
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    COUNTS["analytics reads"] += COUNTS["firestore reads"] - reads
                    COUNTS["analytics writes"] += COUNTS["firestore writes"] - writes
        return counted

    for name in ("customer_message", "conversation_reopened", "conversation_closed", "outbound_message",
                 "escalation_started", "offered", "rejected", "accepted", "bot_run", "hold_ended", "presence_changed"):
        setattr(analytics, name, wrap(getattr(analytics, name)))


def write_amplification(messages: int) -> None:
    from flow_costs import play

    count_analytics()
    table = play(messages, last_text="quiero hablar con un asesor")
    print(f"\nwrite amplification: one conversation of {messages} customer messages, the last one escalated by the bot")
    print(f"{'step (message)':78} {'reads':>6} {'writes':>7} {'of which analytics':>19} {'analytics reads':>16}")
    for name in sorted(table, key=lambda n: (n.split(" (")[1], n)):
        c = table[name]
        if not c.get("function invocations"):
            continue
        print(f"{name:78} {c.get('firestore reads', 0):>6} {c.get('firestore writes', 0):>7} "
              f"{c.get('analytics writes', 0):>19} {c.get('analytics reads', 0):>16}")


def compact_all() -> tuple[int, float]:
    """The compaction job's own pages and steps, in-process, until no shard of a finished day is left."""
    from utalk.services import analytics_compaction

    cursor, groups, started = None, 0, time.perf_counter()
    while True:
        page = analytics_compaction.pages(cursor, 300)
        for group in page.items:
            groups += analytics_compaction.each(group, "bench")
        cursor = page.cursor
        if cursor is None:
            return groups, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--sample", type=int, default=20_000, help="customer message documents actually written")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--messages", type=int, default=3, help="customer messages of the write-amplification conversation")
    ap.add_argument("--writes-only", action="store_true", help="only the write-amplification table")
    ap.add_argument("--port-offset", type=int, help="the test stack's port offset (default: UTALK_TEST_PORT_OFFSET)")
    args = ap.parse_args()
    if args.port_offset is not None:
        os.environ["UTALK_TEST_PORT_OFFSET"] = str(args.port_offset)
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
        from flow_costs import instrument

        from utalk.auth.tokens import Principal
        from utalk.models.analytics import AnalyticsQuery
        from utalk.services import analytics_reports as reports

        if args.writes_only:
            instrument()
            write_amplification(args.messages)
            return 0
        ws = f"ws_bench{uuid.uuid4().hex[:6]}"
        last = date(2026, 11, 30)
        days = [last - timedelta(days=i) for i in range(args.days - 1, -1, -1)]
        t0 = time.perf_counter()
        docs = seed_counters(ws, days)
        seed_messages(ws, days, args.sample)
        print(f"seeded {docs} counter documents and {args.sample} customer messages in "
              f"{time.perf_counter() - t0:.1f} s")
        instrument()
        admin = Principal("admin", "admin", ws, "tenant_bench", 2 ** 40)
        query = lambda **kw: AnalyticsQuery.model_validate({"from": days[0].isoformat(), "to": last.isoformat(),
                                                            **kw})
        cases = [("overview, by day", lambda: reports.overview(admin, query())),
                 ("overview, by week", lambda: reports.overview(admin, query(interval="week"))),
                 ("conversations", lambda: reports.conversations(admin, query())),
                 ("agents", lambda: reports.agents(admin, query())),
                 ("bot", lambda: reports.bot(admin, query())),
                 ("one agent", lambda: reports.agents(admin, query(agentId="agent03"))),
                 ("export.csv", lambda: sum(1 for _ in reports.export_rows(admin, query())))]
        before = measure(cases, args.repeat)
        groups, took = compact_all()
        print(f"compaction: {groups} day x channel x agent groups folded in {took:.1f} s")
        after = measure(cases, args.repeat)
        print(f"\n{'report (' + str(args.days) + ' days)':22} {'docs read':>10} {'after compaction':>17} "
              f"{'queries':>8} {'billed reads at 1M msgs':>24} {'after compaction':>17} {'median latency':>15} "
              f"{'after':>8}")
        for name, _ in cases:
            (r0, q0, b0, t0), (r1, q1, b1, t1) = before[name], after[name]
            print(f"{name:22} {r0:>10} {r1:>17} {q0:>8} {b0:>24} {b1:>17} {t0 * 1000:>12.0f} ms {t1 * 1000:>5.0f} ms")
        write_amplification(args.messages)
    finally:
        stack.stop()
    return 0


def measure(cases, repeat: int) -> dict[str, tuple[int, int, int, float]]:
    """Each report's (documents read, queries, billed reads at 1M messages, median seconds)."""
    from flow_costs import COUNTS

    out = {}
    for name, run in cases:
        times = []
        for _ in range(repeat):
            COUNTS.clear()
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        reads, queries, aggregations = (COUNTS["firestore reads"], COUNTS["firestore queries"],
                                        COUNTS["firestore aggregations"])
        # A count() bills max(1, entries / 1000): the 1,000,000 messages are spread over the queries.
        billed = reads + (math.ceil(MESSAGES / 1000) + aggregations if aggregations > 0 else 0)
        out[name] = (reads, queries, billed, statistics.median(times))
        print(f"  {name}: {reads} documents read, {statistics.median(times):.1f} s", file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
