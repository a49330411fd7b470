"""Entry point: `python -m relay.server` (PYTHONPATH=realtime-relay:shared).

Builds the Socket.IO server (python-socketio over relay/engine.py and relay/web.py), the Redis
manager (when UTALK_REDIS_URL is set), the Firestore client and one Pub/Sub feed per subscription
(`realtime-events`, and `message-received` unless disabled), serves until SIGTERM/SIGINT, then
shuts down in order: stop pulling (unemitted messages are nacked for redelivery), stop accepting,
drop the transports so clients reconnect elsewhere, close, exit 0.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import socketio
from google.cloud import firestore

from utalk import logs
from utalk.config import settings

from .config import RelayConfig, config
from .dedup import LocalDedup, RedisDedup
from .feed import Feed
from .handlers import Relay
from .protocol import RelayServer
from .presence import LocalRegistry, Presence, RedisRegistry
from .room_index import indexed
from .transport import drop_transports, tune_gc, watch_loop_lag
from . import visitors
from .visibility import hooked
from .web import WebServer

log = logs.get("relay.server")

# The engine.io frame cap sits above the 64 KB event limit so an oversized event reaches the
# handler guard and gets a `payload_too_large` error event instead of a dropped connection.
MAX_FRAME_BYTES = 1_000_000


def origin_checker(configured: tuple[str, ...]):
    """The web app origins from UTALK_CORS_ORIGINS, plus the relay's own origin (what non-browser
    clients such as python-socketio send), which a plain list would refuse; and a web chat's sites,
    for the visitor sockets of that chat only (relay/visitors.py checks them at connect)."""
    allowed = set(configured)

    def check(origin, environ) -> bool:
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin in allowed or origin == own or visitors.admit_handshake(origin, environ)
    return check


def build_sio(cfg: RelayConfig, redis_url: str | None) -> socketio.AsyncServer:
    manager = hooked(indexed(socketio.AsyncRedisManager))(redis_url, channel="utalk-relay") if redis_url \
        else hooked(indexed(socketio.AsyncManager))()
    return RelayServer(client_manager=manager, cors_allowed_origins=origin_checker(settings().cors_origins),
                       max_http_buffer_size=MAX_FRAME_BYTES, ping_interval=cfg.ping_interval_seconds,
                       ping_timeout=cfg.ping_timeout_seconds, logger=False, engineio_logger=False)


async def serve(cfg: RelayConfig) -> None:
    loop = asyncio.get_running_loop()
    redis = None
    if cfg.redis_url:
        import redis.asyncio as aioredis
        # A blocking pool: a burst of connects waits for a free connection instead of failing
        # with "Too many connections" (what the default pool does at a few hundred at once).
        redis = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
            cfg.redis_url, max_connections=64, timeout=10))
        await redis.ping()
    sio = build_sio(cfg, cfg.redis_url)
    db = firestore.AsyncClient(project=settings().project_id)
    presence = Presence(sio, db, RedisRegistry(redis) if redis else LocalRegistry(),
                        cfg.presence_grace_seconds)
    relay = Relay(sio, db, presence, cfg)
    # One dedup for every feed: an event id is emitted once whichever topic carried it.
    dedup = RedisDedup(redis) if redis else LocalDedup()
    # The inbound topic is the bot's first: a message there that carries no events is not ours.
    topics = [(cfg.topic, cfg.subscription, False)]
    if cfg.inbound_topic:
        topics.append((cfg.inbound_topic, cfg.inbound_subscription, True))
    feeds = [Feed(sio, settings().project_id, topic, subscription, dedup, max_messages=cfg.pull_max_messages,
                  max_age_seconds=cfg.max_event_age_seconds, carried_only=carried)
             for topic, subscription, carried in topics]
    for feed in feeds:
        await loop.run_in_executor(None, feed.ensure_subscription)
    realtime = feeds[0]

    async def health():
        ok = all(feed.pulling for feed in feeds)
        # The top-level subscription/pulling/streaming/events are the realtime-events feed's (what
        # they always were); `feeds` has every feed, and the status needs all of them pulling.
        return 200 if ok else 503, {
            "status": "ok" if ok else "degraded", "instance": cfg.instance_id,
            "subscription": realtime.subscription_path, "pulling": realtime.pulling,
            "streaming": realtime.streaming, "redis": redis is not None,
            "sockets": len(relay.sessions), "visitors": len(relay.visitors), "events": realtime.stats,
            "feeds": [feed.describe() for feed in feeds],
        }

    web = WebServer(sio.eio, {"/health": health})
    await web.start(cfg.host, cfg.port)
    for feed in feeds:
        feed.start()
    heartbeat = asyncio.ensure_future(presence.heartbeat_forever(relay.sessions))
    visibility = asyncio.ensure_future(relay.visibility.refresh_forever())
    lag_watch = asyncio.ensure_future(watch_loop_lag())
    tune_gc()
    log.info("relay ready", extra={"port": cfg.port, "instance": cfg.instance_id,
                                   "subscriptions": [feed.subscription_path for feed in feeds],
                                   "redis": redis is not None})

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("relay stopping", extra={"sockets": len(relay.sessions)})
    await asyncio.gather(*(feed.stop(timeout=cfg.shutdown_grace_seconds) for feed in feeds))
    web.stop_accepting()
    await drop_transports(sio)
    heartbeat.cancel()
    visibility.cancel()
    lag_watch.cancel()
    await presence.cancel_pending()
    await web.close()
    if redis is not None:
        await redis.aclose()
    log.info("relay stopped")


def main() -> int:
    logs.get("relay")  # installs the JSON handler on the `utalk` logger
    logging.getLogger("utalk").setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    # Libraries (engineio, grpc) log through the root logger: same JSON lines, warnings up.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logs.JsonFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    asyncio.run(serve(config()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
