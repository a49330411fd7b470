"""Prints one token per bench client for harness/bench.js --auth-token-cmd.

Client i (of BENCH_CLIENTS) is agent `bench-u{i}` of workspace `{BENCH_ROOM_PREFIX}{i % BENCH_ROOMS}`,
so the relay's own workspace room is the bench room. With `--visitors`, client i is instead the web
chat visitor whose id is its bench room's name, of the chat BENCH_VISITOR_CHANNEL_KEY of workspace
BENCH_VISITOR_WORKSPACE: a visitor token as the visitor API issues it (utalk/auth/visitor_tokens.py),
so the relay puts the socket in that visitor's own conversation room. Signed with the relay's secret
(UTALK_JWT_SECRET or the local default), valid for the usual 15 minutes (visitors: 1 hour).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "shared"))

from utalk.auth import visitor_tokens  # noqa: E402
from utalk.auth.tokens import issue_access_token  # noqa: E402
from utalk.auth.visitor_tokens import Visitor  # noqa: E402

VISITOR_CHANNEL_ID = "ch_bench_web"


def main() -> None:
    clients, rooms = int(os.environ["BENCH_CLIENTS"]), int(os.environ["BENCH_ROOMS"])
    prefix = os.environ.get("BENCH_ROOM_PREFIX", "room-")
    if "--visitors" in sys.argv[1:]:
        ws, key = os.environ["BENCH_VISITOR_WORKSPACE"], os.environ["BENCH_VISITOR_CHANNEL_KEY"]
        lines = (visitor_tokens.issue(Visitor(f"{prefix}{i % rooms}", ws, VISITOR_CHANNEL_ID, key, False, 0))[0]
                 for i in range(clients))
    else:
        lines = (issue_access_token(f"bench-u{i}", "agent", f"{prefix}{i % rooms}", "tenant_bench")[0]
                 for i in range(clients))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
