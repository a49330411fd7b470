"""Prints one access token per bench client for harness/bench.js --auth-token-cmd.

Client i (of BENCH_CLIENTS) is agent `bench-u{i}` of workspace `{BENCH_ROOM_PREFIX}{i % BENCH_ROOMS}`,
so the relay's own workspace room is the bench room. Signed with the relay's secret
(UTALK_JWT_SECRET or the local default), valid for the usual 15 minutes.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "shared"))

from utalk.auth.tokens import issue_access_token  # noqa: E402


def main() -> None:
    clients, rooms = int(os.environ["BENCH_CLIENTS"]), int(os.environ["BENCH_ROOMS"])
    prefix = os.environ.get("BENCH_ROOM_PREFIX", "room-")
    lines = (issue_access_token(f"bench-u{i}", "agent", f"{prefix}{i % rooms}", "tenant_bench")[0]
             for i in range(clients))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
