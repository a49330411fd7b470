"""The feed's request stream on its own (no Pub/Sub): settlements arriving one by one, as messages
handled at 100/s do, go out a few per write instead of one write each (each write cost ~0.5 ms of
the relay's CPU), every one of them still sent, and a shutdown still half-closes the stream."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay.dedup import LocalDedup  # noqa: E402
from relay.feed import _HALF_CLOSE, Feed  # noqa: E402

SETTLEMENTS = 30


def test_settlements_a_few_milliseconds_apart_share_their_writes():
    async def scenario():
        feed = Feed(None, "p", "t", "s", LocalDedup(), max_messages=100, max_age_seconds=60)
        requests = feed._requests()
        first = await requests.__anext__()          # the opening request: subscription and flow control
        assert first.subscription == "projects/p/subscriptions/s"
        writes: list = []

        async def read():
            async for request in requests:          # ends when the stream is half-closed
                writes.append(request)

        reader = asyncio.ensure_future(read())
        for k in range(SETTLEMENTS):
            feed.settle(f"ack-{k}", ack=k % 10 != 9)  # one in ten is a nack
            await asyncio.sleep(0.005)
        feed._settled.put_nowait(_HALF_CLOSE)
        await asyncio.wait_for(reader, 10)
        return writes

    writes = asyncio.run(scenario())
    acked = [a for w in writes for a in w.ack_ids]
    nacked = [a for w in writes for a in w.modify_deadline_ack_ids]
    assert sorted(acked + nacked) == sorted(f"ack-{k}" for k in range(SETTLEMENTS))
    assert nacked == ["ack-9", "ack-19", "ack-29"]
    assert len(writes) <= SETTLEMENTS // 3, len(writes)
