"""Every rate limit, as data: what `http.endpoint` applies to each route, and the login throttle's.

Each HTTP function gets a plan from `plan()`: the per-user limit on every authenticated route, the
per-IP limit on every unauthenticated one, plus the rows of `BY_FUNCTION` keyed by manifest name.
A new route is limited without a line here; a new per-endpoint limit is one row. docs/security.md
("Limits") lists them with their keys and where their counters live.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MAX_WRITES_PER_DOCUMENT = 1.0   # per second, sustained: what production Firestore allows one document


@dataclass(frozen=True)
class Limit:
    """`limit` events per `window_seconds` per key; `name` scopes the keys and names it in 429s.

    Counted by utalk/ratelimit.py in `shards` documents, so that none takes more than
    MAX_WRITES_PER_DOCUMENT at the limit's full rate.
    """
    name: str
    limit: int
    window_seconds: int

    @property
    def shards(self) -> int:
        return max(1, math.ceil(self.limit / self.window_seconds / MAX_WRITES_PER_DOCUMENT))

    def share(self, shard: int) -> int:
        """What one shard admits per window (the shares add up to `limit`)."""
        return self.limit // self.shards + (1 if shard < self.limit % self.shards else 0)


USER = Limit("user", 100, 60)                  # spec: 100 requests/minute per user, every authenticated route
IP = Limit("ip", 60, 60)                       # every unauthenticated route, per client IP (http.client_ip)
MESSAGES = Limit("messages", 60, 60)           # spec: 60 messages/minute per user
MEDIA_UPLOADS = Limit("media-uploads", 10, 60)  # spec: 10 files/minute per user, counted per file by media_upload.py
# A report reads up to thousands of counter documents (docs/analytics.md): a dashboard's refreshes, not a loop.
ANALYTICS = Limit("analytics", 30, 60)

# Web chat visitors (services/webchat.py counts these itself: a new visitor is known only there, and a
# visitor is no user). Each new visitor opens a conversation; Chatwoot allows 5 new widget sessions
# per IP per hour. The widget signals typing at most every 3 s.
WEBCHAT_NEW_VISITORS = Limit("webchat-new-visitors", 10, 3600)          # per client IP
WEBCHAT_CONVERSATIONS = Limit("webchat-conversations", 30, 24 * 3600)   # per client IP
WEBCHAT_MESSAGES = Limit("webchat-messages", 20, 60)                    # per visitor
WEBCHAT_TYPING = Limit("webchat-typing", 30, 60)                        # per visitor
VISITOR = Limit("visitor", 60, 60)             # per visitor: a web chat's USER (every route taking its token)

# A route that takes a visitor's token counts per visitor, as an authenticated route counts per user,
# never per IP: a shop's visitors behind one address (an office, a campus, a mobile carrier's NAT)
# would share one IP's 60 a minute, which one chatting widget nearly spends alone. An address gets
# at most WEBCHAT_NEW_VISITORS visitors an hour and WEBCHAT_CONVERSATIONS a day, so one address
# sends at most that many visitors' WEBCHAT_MESSAGES. The send counts WEBCHAT_MESSAGES only
# (stricter than VISITOR, and so able to go in the message's own Commit: ratelimit.ahead).
# Counted by the handler once the token is verified (an invalid token is a 401 with no Firestore
# work to protect): function name -> the limits, keyed by workspace and visitor.
BY_VISITOR: dict[str, tuple[Limit, ...]] = {
    "webchat_send": (WEBCHAT_MESSAGES,),
    "webchat_typing": (VISITOR, WEBCHAT_TYPING),
    **{name: (VISITOR,) for name in ("webchat_history", "webchat_read", "webchat_media_get", "webchat_media_upload")},
}

# Per-endpoint limits on top of USER / IP: manifest function name -> ((limit, scope), ...), where the
# scope "user" keys the count by workspace and user, "ip" by client IP.
BY_FUNCTION: dict[str, tuple[tuple[Limit, str], ...]] = {
    "messages_send": ((MESSAGES, "user"),),
    **{name: ((ANALYTICS, "user"),) for name in ("analytics_overview", "analytics_conversations", "analytics_agents",
                                                 "analytics_bot", "analytics_export")},
}

# No limiter work at all: provider webhooks are authenticated by their signature and arrive from the
# providers' own addresses at high rates (an IP limit would drop a busy tenant's customers), and
# the liveness probe and the OpenAPI document (bytes read once per instance) do no I/O that a limit
# would protect: counting them would be the only Firestore work they do.
UNLIMITED_PATHS = ("/webhooks/",)
UNLIMITED = frozenset({"health", "api_openapi"})
# Routes whose handler counts them, with a key only it knows: the visitor routes (BY_VISITOR).
COUNTED_BY_HANDLER = frozenset(BY_VISITOR)

# The login throttle (services/auth.py), counted before the password is verified, 15-minute windows:
# one address guessing one account stops after LOGIN_IP_ACCOUNT, so it adds at most that to the
# account's count and cannot lock the owner out from elsewhere; guesses at one account from many
# addresses stop at LOGIN_ACCOUNT; one address spraying many accounts stops at LOGIN_IP.
LOGIN_IP_ACCOUNT = Limit("login-ip-account", 5, 15 * 60)
LOGIN_ACCOUNT = Limit("login-account", 20, 15 * 60)
LOGIN_IP = Limit("login-ip", 30, 15 * 60)


def plan(name: str, path: str, authenticated: bool) -> tuple[tuple[Limit, str], ...]:
    """The (limit, scope) pairs every request to function `name` is counted against."""
    if name in UNLIMITED or name in COUNTED_BY_HANDLER or path.startswith(UNLIMITED_PATHS):
        return ()
    return ((USER, "user") if authenticated else (IP, "ip"),) + BY_FUNCTION.get(name, ())
