"""Rate limit counts going ahead in the Commit they limit (utalk.ratelimit.ahead), on the Firestore
emulator: only on a shard this instance has counted in (or, at a window's first count, knew low in
the window before) and knows well below its share, one at a time, landing in the same Commit as the
write it limits; near the limit counted exactly, and once
full refused with no write. Two instances counting one key at once admit at least the limit and at
most one more per shard per instance."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore
from messaging_support import db

ROOT = Path(__file__).resolve().parents[2]


def _inside_one_window(window: int, needed: float) -> None:
    left = window - time.time() % window
    if left < needed:
        time.sleep(left + 0.5)


def _batch(doc_id: str | None = None, create: bool = False):
    """A Commit of our own for the counts to go in, with one document to show it landed."""
    from utalk import clients
    from utalk.repositories.raw_writes import Batch

    batch = Batch(clients.firestore())
    if doc_id:
        ref = clients.firestore().collection("aheadTest").document(doc_id)
        (batch.create if create else batch.set)(ref, {"at": firestore.SERVER_TIMESTAMP})
    return batch


def _when_told(limit_args: tuple, key: str, n: int) -> None:
    """The other instance: ready once imported and connected, counting when told (a line on stdin),
    so both count at once however long a loaded machine takes to start a process."""
    from utalk import clients

    clients.firestore()
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(attempts(limit_args, key, n, 8)), flush=True)


def _shard():
    [doc] = list(db().collection("rateLimits").stream())
    return doc


def attempts(limit_args: tuple, key: str, n: int, threads: int) -> dict:
    """What webchat.send does, `n` times from `threads` threads: go ahead when this instance can,
    else count exactly first. How many went ahead, were taken, were refused."""
    from utalk import errors, ratelimit
    from utalk.limits import Limit

    limit = Limit(*limit_args)

    def one(_):
        try:
            ahead = ratelimit.ahead((limit, key))
            if ahead is None:
                ratelimit.take((limit, key))
                return "took"
            ahead.commit(_batch())
            return "ahead"
        except errors.RateLimited:
            return "refused"

    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(one, range(n)))
    return {kind: outcomes.count(kind) for kind in ("ahead", "took", "refused")}


def test_a_count_goes_ahead_only_well_below_a_shard_this_instance_counted_in(clean):
    from utalk import errors, ratelimit
    from utalk.limits import Limit

    limit, key = Limit("test-ahead", 8, 60), uuid.uuid4().hex
    assert ratelimit.ahead_margin(8) == 2
    _inside_one_window(60, 10)
    assert ratelimit.ahead((limit, key)) is None      # never counted here: nothing is known
    ratelimit.take((limit, key))
    first = ratelimit.ahead((limit, key))
    assert first is not None
    assert ratelimit.ahead((limit, key)) is None      # one count ahead per shard at a time
    assert len(first.commit(_batch("first"))) == 1    # the caller's own results only
    shard, landed = _shard(), db().collection("aheadTest").document("first").get()
    assert shard.get("count") == 2 and shard.update_time == landed.update_time   # one Commit
    for i in range(4):                                # known at 2..5: 5 + 2 < 8 goes ahead
        ratelimit.ahead((limit, key)).commit(_batch(f"more-{i}"))
    assert _shard().get("count") == 6
    assert ratelimit.ahead((limit, key)) is None      # near the limit: counted exactly
    ratelimit.take((limit, key))
    ratelimit.take((limit, key))
    assert _shard().get("count") == 8
    with pytest.raises(errors.RateLimited):
        ratelimit.take((limit, key))                  # over: refused, and the shard known full
    with pytest.raises(errors.RateLimited) as refused:
        ratelimit.ahead((limit, key))                 # known full: refused here, no write
    assert int(refused.value.headers["Retry-After"]) >= 1
    assert _shard().get("count") == 9


def test_a_key_known_low_in_the_window_before_goes_ahead_once_blind_at_the_next(clean):
    """A visitor who keeps chatting: its first count of a window goes ahead when this instance knew
    it well below the limit in the window before; not when it knew it near the limit, nor when it
    never counted it. Four-second windows (10 shards of 4), so the test crosses one."""
    import hashlib

    from utalk import ratelimit
    from utalk.limits import Limit

    limit = Limit("test-ahead-next", 40, 4)
    assert limit.shards == 10 and ratelimit.ahead_margin(4) == 2
    chatting, busy, stranger = (uuid.uuid4().hex for _ in range(3))
    time.sleep(4 - time.time() % 4 + 0.05)            # a window's start
    ratelimit.take((limit, chatting))                 # lands at 1 on its shard: 1 + 2 < 4
    for _ in range(20):
        ratelimit.take((limit, busy))                 # each shard at 2 at last: 2 + 2 is not below 4
    time.sleep(4 - time.time() % 4 + 0.05)            # the next window
    blind = ratelimit.ahead((limit, chatting))
    assert blind is not None
    assert ratelimit.ahead((limit, chatting)) is None      # once, until it has landed
    blind.commit(_batch())
    digest = hashlib.sha256(f"{limit.name}\x00{chatting}".encode()).hexdigest()[:40]
    window = int(time.time() // 4)
    counts = [d.get("count") for d in db().collection("rateLimits").stream()
              if d.id.startswith(f"{digest}-4-{window}-")]
    assert counts == [1]
    assert ratelimit.ahead((limit, chatting)) is not None   # and then known, at 1
    assert ratelimit.ahead((limit, busy)) is None
    assert ratelimit.ahead((limit, stranger)) is None


def test_a_count_whose_commit_fails_or_never_happens_is_counted_alone_once(clean):
    """A duplicate message's create fails the Commit it went ahead in; a caller refusing the request
    before its Commit (a bad attachment) counts it alone: every request counts, as with take(), so
    resending one message id is limited too; and the shard is free for the next count."""
    from utalk import ratelimit
    from utalk.limits import Limit

    limit, key = Limit("test-ahead-failed", 20, 60), uuid.uuid4().hex
    _inside_one_window(60, 10)
    ratelimit.take((limit, key))
    _batch("taken").commit()
    with pytest.raises(AlreadyExists):
        ratelimit.ahead((limit, key)).commit(_batch("taken", create=True))
    assert _shard().get("count") == 2
    assert db().collection("aheadTest").document("taken").get().exists
    never_sent = ratelimit.ahead((limit, key))
    never_sent.alone()
    never_sent.alone()                                # once
    assert _shard().get("count") == 3
    ratelimit.ahead((limit, key)).commit(_batch())    # the shard is free for the next
    assert _shard().get("count") == 4


@pytest.mark.parametrize("limit_args", [("test-ahead-one", 40, 60), ("test-ahead-sharded", 200, 60)])
def test_two_instances_counting_one_key_at_once_admit_the_limit_and_at_most_one_more_each(clean, limit_args):
    from utalk import clients
    from utalk.limits import Limit

    limit, key = Limit(*limit_args), uuid.uuid4().hex
    n = limit.limit * 3 // 4          # each instance alone stays under; together they go over
    clients.firestore()
    code = ("import sys; sys.path[:0] = ['shared', 'tests', 'tests/integration'];"
            "from test_ratelimit_ahead import _when_told;"
            f"_when_told({limit_args!r}, {key!r}, {n})")
    other = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'shared'}"})
    assert other.stdout.readline().strip() == "ready"
    _inside_one_window(60, 15)
    other.stdin.write("go\n")
    other.stdin.flush()
    here = attempts(limit_args, key, n, 8)
    out, _ = other.communicate(timeout=120)
    assert other.returncode == 0
    there = json.loads(out.strip().splitlines()[-1])
    admitted = here["ahead"] + here["took"] + there["ahead"] + there["took"]
    assert limit.limit <= admitted <= limit.limit + 2 * limit.shards, (here, there)
    assert here["ahead"] + there["ahead"] > 0, (here, there)   # which of them did is up to timing
    counts = [d.get("count") for d in db().collection("rateLimits").stream()]
    assert len(counts) == limit.shards and sum(counts) >= admitted, counts
