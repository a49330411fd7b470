"""What one analytics report costs for a busy workspace: 50,000 conversations and 1,000,000
messages over 90 days (docs/analytics.md).

    UTALK_TEST_PORT_OFFSET=700 .venv/bin/python bench/analytics_bench.py [--days 90] [--sample 20000]

Starts the test Firestore emulator and writes the counter documents the recording leaves for that
workload: per day, 16 shards for each of 3 channels plus one document per active agent (20),
holding the figures 50,000 conversations produce (this is the document count the reports read,
whatever the figures). Customer messages are real message documents, `--sample` of them spread
over the days (the emulator cannot hold a million quickly); each report's `count()` bills one read
per 1,000 index entries, so the billed reads for 1,000,000 are computed from the query count.
Then each report is called through the service (in-process) with the Firestore RPCs counted
(`bench/flow_costs.instrument`) and timed. Write amplification per message: `bench/flow_costs.py`
(the same chain, with the analytics writes in its table).
"""
from __future__ import annotations

import argparse
import math
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
            batch.set(col.document(doc_id), {"day": day.isoformat(), "channel": channel, "agent": agent, **fields})
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--sample", type=int, default=20_000, help="customer message documents actually written")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    stack = test_stack()
    stack.apply_env()
    try:
        stack.start_emulators()
        import logging
        logging.getLogger("utalk").setLevel(logging.ERROR)
        from flow_costs import COUNTS, instrument

        from utalk.auth.tokens import Principal
        from utalk.models.analytics import AnalyticsQuery
        from utalk.services import analytics_reports as reports

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
        print(f"\n{'report (' + str(args.days) + ' days)':28} {'documents read':>15} {'queries':>16} "
              f"{'billed reads at 1M msgs':>24} {'median latency':>15}")
        for name, run in cases:
            times = []
            for _ in range(args.repeat):
                COUNTS.clear()
                started = time.perf_counter()
                run()
                times.append(time.perf_counter() - started)
            reads, queries = COUNTS["firestore reads"], COUNTS["firestore queries"]
            aggregations = queries - 1          # every query but the one over the counters is a count()
            # A count() bills max(1, entries / 1000): the 1,000,000 messages are spread over the queries.
            billed = reads + (math.ceil(MESSAGES / 1000) + aggregations if aggregations > 0 else 0)
            print(f"{name:28} {reads:>15} {queries:>16} {billed:>24} {statistics.median(times) * 1000:>12.0f} ms")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
