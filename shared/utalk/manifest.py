"""The function manifest: the one table of every Cloud Function and how it is triggered.

The local gateway, the provisioning of topics/subscriptions/queues/buckets, the deploy script and
`functions/main.py` all read this table; nothing about wiring is written anywhere else.

A row: name (also the deployed entry point), handler ("module:function" inside `functions/`),
exactly one trigger (http route, Pub/Sub topic, Cloud Tasks queue or schedule), and settings.
The deploy-only settings (memory, cpu, concurrency, min/max instances, identity) are read by
`deploy/` alone: runtime code never reads them from another row, so changing one row's settings
redeploys that function only (`deploy/hashing.py`; `tests/deploy/test_hashing.py` enforces it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

API = "/api/v1"


@dataclass(frozen=True)
class Queue:
    """A Cloud Tasks queue; its rate and concurrency are the limits it enforces."""
    name: str
    max_dispatches_per_second: float
    max_concurrent_dispatches: int
    max_attempts: int = 8
    min_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    max_doublings: int = 16              # backoff doubles this many times, then grows linearly
    max_retry_seconds: int = 0           # give up on a task after this long; 0: only max_attempts


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    method: str | None = None          # HTTP trigger: method + path
    path: str | None = None
    topic: str | None = None           # Pub/Sub trigger (push subscription "<topic>--<name>")
    queue: str | None = None           # Cloud Tasks target
    schedule: str | None = None        # Cloud Scheduler unix-cron (an HTTP call to the function)
    time_zone: str = "Etc/UTC"         # IANA zone the schedule is read in
    memory: str = "256Mi"
    timeout_seconds: int = 60
    secrets: tuple[str, ...] = ()
    public: bool = True                # reachable from the internet (API + webhooks) vs internal only
    # A route that streams its body (uploads): its own body limit instead of the global
    # `max_body_bytes`, checked on Content-Length and, for chunked bodies, while the handler reads.
    max_body_bytes: int | None = None
    cpu: str | None = None             # vCPUs ("1", "0.5"); None: Google's default for the memory
    concurrency: int = 1               # requests one instance serves at once; > 1 needs >= 1 vCPU
    min_instances: int = 0
    max_instances: int = 100
    identity: str | None = None        # runtime service account (ROLES); None: from the trigger
    # A deprecated route: the day it was deprecated ("YYYY-MM-DD") and the note on what replaces it.
    # Its responses carry X-Deprecated, Sunset (six months on) and Link; the OpenAPI marks it.
    deprecated: str | None = None
    deprecation_note: str = "/docs/api-contract.md#deprecations"   # utalk.deprecation.DEFAULT_NOTE

    @property
    def role(self) -> str:
        """Which runtime identity runs it: REST API, provider webhooks, or internal (push/task/job)."""
        if self.identity:
            return self.identity
        if not self.path:
            return "internal"
        return "webhooks" if self.path.startswith("/webhooks/") else "api"

    @property
    def kind(self) -> str:
        if self.path:
            return "http"
        if self.topic:
            return "pubsub"
        if self.queue:
            return "task"
        return "schedule"

    @property
    def signature_type(self) -> str:
        # Every function is HTTP-triggered: Pub/Sub reaches its subscribers through push
        # subscriptions we create (OIDC push auth, retry policy, dead letters; one body format),
        # not through Eventarc's CloudEvent trigger.
        return "http"


TOPICS = (
    "message-received",     # an inbound customer message was stored
    "message-outbound",     # an outbound message was queued for a provider
    "realtime-events",      # every state change, fanned out by the Socket.IO relay
)

# Every push subscription (topic -> function) retries a failed push with this backoff and, after
# MAX_DELIVERY_ATTEMPTS, moves the message to this one topic (devstack/provision.py; deploy too).
DEAD_LETTER_TOPIC = "dead-letters"
MAX_DELIVERY_ATTEMPTS = 10           # Pub/Sub allows 5-100
PUSH_MIN_BACKOFF_SECONDS = 1.0
PUSH_MAX_BACKOFF_SECONDS = 60.0

# Queues are sized for the whole platform (docs/bot-and-escalation.md has the arithmetic), never
# for one tenant: a workspace's own budgets are enforced per workspace by the functions they feed.
QUEUES = (
    # Cloud Tasks' per-queue maxima; each workspace's AI limits hold in bot_run (services/bot_limits.py).
    Queue("bot-runs", max_dispatches_per_second=500, max_concurrent_dispatches=5000),
    Queue("escalation-timeouts", max_dispatches_per_second=200, max_concurrent_dispatches=100),
    # One run per workspace at a time is a lease (services/assignment_runs.py), not this queue.
    Queue("assignments", max_dispatches_per_second=100, max_concurrent_dispatches=100),
    # A scheduled job continues a long sweep here (utalk.jobs), before its own timeout.
    Queue("jobs", max_dispatches_per_second=10, max_concurrent_dispatches=10, max_attempts=5,
          min_backoff_seconds=10),
)
JOBS_QUEUE = "jobs"

# Runtime identities (one service account each), plus the invoker that Pub/Sub push, Cloud Tasks
# and Cloud Scheduler present to internal functions (UTALK_INVOKER_SERVICE_ACCOUNT).
ROLES = ("api", "webhooks", "internal")

# Every secret the deploy keeps in Secret Manager; a row may mount only these (as env vars).
SECRETS = (
    "UTALK_JWT_SECRET",          # signs access tokens (the relay verifies them too)
    "UTALK_CREDENTIALS_KEY",     # seals channel credentials at rest
    "OPENAI_API_KEY",
    "FIREBASE_SERVICE_ACCOUNT",  # signs Firebase custom tokens
)
# Production settings refuse to start without these, so every function mounts them, whatever its row says.
PLATFORM_SECRETS = ("UTALK_JWT_SECRET", "UTALK_CREDENTIALS_KEY")
# Rotated without a gap: while the secret's previous version is still enabled, a function mounting
# it also gets that version as <NAME>_PREVIOUS (tokens signed and credentials sealed before the new
# version still verify and open); disabling the old version and deploying again ends that.
ROTATED_WITH_PREVIOUS = ("UTALK_JWT_SECRET", "UTALK_CREDENTIALS_KEY")

JWT = ("UTALK_JWT_SECRET",)
SEALED = ("UTALK_CREDENTIALS_KEY",)   # opens (or seals) channel credentials; no provider token is mounted

FUNCTIONS: tuple[Function, ...] = (
    # health
    Function("health", "health:health", "GET", "/health", memory="128Mi"),
    # the API contract (docs/openapi.json, generated by `python -m contract --write`)
    Function("api_openapi", "api_contract:openapi", "GET", f"{API}/openapi.json", memory="128Mi"),
    Function("health_detailed", "health:health_detailed", "GET", "/health/detailed"),
    Function("health_services", "health:health_services", "GET", "/health/services"),
    # auth
    Function("auth_login", "api_auth:login", "POST", f"{API}/auth/login", memory="512Mi", secrets=JWT),
    Function("auth_refresh", "api_auth:refresh", "POST", f"{API}/auth/refresh", secrets=JWT),
    Function("auth_logout", "api_auth:logout", "POST", f"{API}/auth/logout", secrets=JWT),
    Function("auth_me", "api_auth:me", "GET", f"{API}/auth/me", secrets=JWT),
    Function("auth_firebase_token", "api_firebase:firebase_token", "POST", f"{API}/auth/firebase-token",
             secrets=JWT + ("FIREBASE_SERVICE_ACCOUNT",)),
    # users and agents (admin)
    Function("users_create", "api_users:create", "POST", f"{API}/users", memory="512Mi", secrets=JWT),
    Function("users_list", "api_users:list_users", "GET", f"{API}/users", secrets=JWT),
    Function("users_get", "api_users:get", "GET", f"{API}/users/{{userId}}", secrets=JWT),
    Function("users_update", "api_users:update", "PATCH", f"{API}/users/{{userId}}", secrets=JWT),
    Function("users_deactivate", "api_users:deactivate", "POST", f"{API}/users/{{userId}}/deactivate",
             secrets=JWT),
    # channels, conversations, messages (issue 3)
    Function("channels_create", "api_channels:create", "POST", f"{API}/channels", secrets=JWT + SEALED),
    Function("channels_list", "api_channels:list_channels", "GET", f"{API}/channels", secrets=JWT),
    Function("channels_get", "api_channels:get", "GET", f"{API}/channels/{{channelId}}", secrets=JWT),
    Function("channels_update", "api_channels:update", "PATCH", f"{API}/channels/{{channelId}}",
             secrets=JWT + SEALED),
    Function("channels_set_credentials", "api_channels:set_credentials", "PUT",
             f"{API}/channels/{{channelId}}/credentials", secrets=JWT + SEALED),
    Function("channels_delete", "api_channels:delete", "DELETE", f"{API}/channels/{{channelId}}", secrets=JWT),
    Function("conversations_list", "api_conversations:list_conversations", "GET", f"{API}/conversations",
             secrets=JWT),
    Function("conversations_get", "api_conversations:get", "GET", f"{API}/conversations/{{conversationId}}",
             secrets=JWT),
    Function("conversations_set_status", "api_conversations:set_status", "POST",
             f"{API}/conversations/{{conversationId}}/status", secrets=JWT),
    Function("conversations_mark_read", "api_conversations:mark_read", "POST",
             f"{API}/conversations/{{conversationId}}/read", secrets=JWT),
    Function("messages_list", "api_messages:list_messages", "GET",
             f"{API}/conversations/{{conversationId}}/messages", secrets=JWT),
    Function("messages_send", "api_messages:send", "POST", f"{API}/messages", secrets=JWT),
    # Webhooks batch concurrent requests into one Commit and one Publish (coalesce.py): one instance
    # serves many at once, which needs a whole vCPU.
    Function("twilio_inbound", "webhooks_twilio:inbound", "POST", "/webhooks/twilio/whatsapp", memory="512Mi",
             cpu="1", concurrency=8, secrets=SEALED),
    Function("twilio_status", "webhooks_twilio:status", "POST", "/webhooks/twilio/status", cpu="1", concurrency=8,
             secrets=SEALED),
    # Facebook Messenger (issue 16): Meta's handshake and event notifications share one URL
    Function("messenger_verify", "webhooks_messenger:verify", "GET", "/webhooks/messenger"),
    Function("messenger_inbound", "webhooks_messenger:inbound", "POST", "/webhooks/messenger", memory="512Mi",
             cpu="1", concurrency=8, secrets=SEALED),
    Function("message_sender", "sub_sender:send", topic="message-outbound", public=False, timeout_seconds=120,
             secrets=SEALED),
    # bot, escalation, assignment (issue 4)
    Function("bot_dispatch", "sub_bot:dispatch", topic="message-received", public=False),
    # A bot run mostly waits on the LLM: 50 at once per instance, 100 instances = the queue's 5,000.
    Function("bot_run", "task_bot:run", queue="bot-runs", public=False, timeout_seconds=120, memory="512Mi",
             cpu="1", concurrency=50, secrets=("OPENAI_API_KEY",)),
    Function("escalation_timeout", "task_escalation:timeout", queue="escalation-timeouts", public=False),
    Function("assignment_run", "task_assignment:run", queue="assignments", public=False),
    # offers lapse and agents leave (issue 13): fire-and-check timers like the escalation timeout
    Function("offer_timeout", "task_offers:expire", queue="escalation-timeouts", public=False),
    Function("agent_release", "task_offers:release_agent", queue="escalation-timeouts", public=False),
    Function("conversations_escalate", "api_escalations:escalate", "POST",
             f"{API}/conversations/{{conversationId}}/escalate", secrets=JWT),
    Function("conversations_assign", "api_escalations:assign", "POST",
             f"{API}/conversations/{{conversationId}}/assign", secrets=JWT),
    Function("conversations_return_to_bot", "api_escalations:return_to_bot", "POST",
             f"{API}/conversations/{{conversationId}}/return-to-bot", secrets=JWT),
    Function("escalations_accept", "api_escalations:accept", "POST", f"{API}/escalations/{{escalationId}}/accept",
             secrets=JWT),
    Function("escalations_reject", "api_escalations:reject", "POST", f"{API}/escalations/{{escalationId}}/reject",
             secrets=JWT),
    Function("agents_set_status", "api_agents:set_status", "PATCH", f"{API}/agents/me/status", secrets=JWT),
    # media (issue 17); the multipart route streams a body up to the 32 MB a function accepts
    Function("media_upload", "api_media:upload", "POST", f"{API}/media", memory="512Mi", timeout_seconds=300,
             max_body_bytes=32 * 1024 * 1024, secrets=JWT),
    Function("media_upload_start", "api_media:start_upload", "POST", f"{API}/media/uploads", secrets=JWT),
    Function("media_upload_complete", "api_media:complete_upload", "POST", f"{API}/media/{{mediaId}}/complete",
             secrets=JWT),
    Function("media_get", "api_media:get", "GET", f"{API}/media/{{mediaId}}", secrets=JWT),
    # web chat visitors (issue 18): public, authenticated by the visitor's own token, CORS per channel
    Function("webchat_session", "api_webchat:open_session", "POST", f"{API}/webchat/{{channelKey}}/sessions",
             secrets=JWT + SEALED),
    Function("webchat_signout", "api_webchat:sign_out", "POST", f"{API}/webchat/{{channelKey}}/signout",
             secrets=JWT + SEALED),
    Function("webchat_block_visitor", "api_visitors:block", "POST",
             f"{API}/conversations/{{conversationId}}/block-visitor", secrets=JWT),
    # A visitor's message is stored as a webhook's is (grouped Commit and Publish): one instance serves many.
    Function("webchat_send", "api_webchat:send", "POST", f"{API}/webchat/{{channelKey}}/messages", memory="512Mi",
             cpu="1", concurrency=8, secrets=JWT + SEALED),
    # a visitor's files, through the media API's limits (the multipart route streams up to 32 MB)
    Function("webchat_media_upload", "api_webchat:upload", "POST", f"{API}/webchat/{{channelKey}}/media",
             memory="512Mi", timeout_seconds=300, max_body_bytes=32 * 1024 * 1024, secrets=JWT + SEALED),
    Function("webchat_media_get", "api_webchat:media", "GET", f"{API}/webchat/{{channelKey}}/media/{{mediaId}}",
             secrets=JWT + SEALED),
    Function("webchat_history", "api_webchat:history", "GET", f"{API}/webchat/{{channelKey}}/messages",
             secrets=JWT + SEALED),
    Function("webchat_typing", "api_webchat:typing", "POST", f"{API}/webchat/{{channelKey}}/typing",
             secrets=JWT + SEALED),
    Function("webchat_read", "api_webchat:mark_read", "POST", f"{API}/webchat/{{channelKey}}/read",
             secrets=JWT + SEALED),
    # the agent's inbox and workspace settings (issue 13)
    Function("escalations_list", "api_inbox:list_escalations", "GET", f"{API}/escalations", secrets=JWT),
    Function("agents_list", "api_inbox:list_agents", "GET", f"{API}/agents", secrets=JWT),
    Function("workspace_settings_get", "api_workspace:get_settings", "GET", f"{API}/workspace/settings",
             secrets=JWT),
    Function("workspace_settings_update", "api_workspace:update_settings", "PATCH", f"{API}/workspace/settings",
             secrets=JWT),
    # feature flags of the workspace (issue 15): definitions are the operators' (scripts/ops flag-set)
    Function("flags_list", "api_flags:list_flags", "GET", f"{API}/workspace/flags", secrets=JWT),
    Function("flags_set_override", "api_flags:set_override", "PUT", f"{API}/workspace/flags/{{flagKey}}",
             secrets=JWT),
    Function("flags_clear_override", "api_flags:clear_override", "DELETE", f"{API}/workspace/flags/{{flagKey}}",
             secrets=JWT),
    # analytics (issue 19): reports read counters and aggregation counts, never per-message documents
    Function("analytics_overview", "api_analytics:overview", "GET", f"{API}/analytics/overview", secrets=JWT),
    Function("analytics_conversations", "api_analytics:conversations", "GET", f"{API}/analytics/conversations",
             secrets=JWT),
    Function("analytics_agents", "api_analytics:agents", "GET", f"{API}/analytics/agents", secrets=JWT),
    Function("analytics_bot", "api_analytics:bot", "GET", f"{API}/analytics/bot", secrets=JWT),
    Function("analytics_export", "api_analytics:export_csv", "GET", f"{API}/analytics/export.csv",
             memory="512Mi", timeout_seconds=300, secrets=JWT),
    # scheduled jobs (issue 13): Cloud Scheduler calls them with the invoker's OIDC token
    Function("assignment_sweep", "job_assignment:sweep", schedule="* * * * *", public=False, timeout_seconds=300),
    Function("conversations_autoclose", "job_autoclose:sweep", schedule="15 * * * *", public=False,
             timeout_seconds=540),
    Function("media_retention", "job_media_retention:sweep", schedule="30 3 * * *", public=False,
             timeout_seconds=540),
    # analytics (issue 19): finished days' counter shards folded into one rollup per day x channel x agent
    Function("analytics_compaction", "job_analytics_compaction:sweep", schedule="40 * * * *", public=False,
             timeout_seconds=540),
)


@lru_cache(maxsize=1)
def by_name() -> dict[str, Function]:
    table = {f.name: f for f in FUNCTIONS}
    assert len(table) == len(FUNCTIONS), "duplicate function names in the manifest"
    return table


def get(name: str) -> Function:
    return by_name()[name]


def queue(name: str) -> Queue:
    return next(q for q in QUEUES if q.name == name)


_PARAM = re.compile(r"\{(\w+)\}")


def route_params(path: str) -> list[str]:
    """The path params of a route, in order ("/users/{userId}" -> ["userId"])."""
    return _PARAM.findall(path)


@lru_cache(maxsize=None)
def route_regex(path: str) -> re.Pattern:
    """Compile "/api/v1/users/{userId}" into a regex whose named groups are the path params."""
    return re.compile("^" + _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", path) + "/?$")


def match_path(path: str) -> list[tuple[Function, dict[str, str]]]:
    """Every HTTP function whose route matches `path` (any method), with its path params."""
    found = []
    for fn in FUNCTIONS:
        if fn.path:
            m = route_regex(fn.path).match(path)
            if m:
                found.append((fn, m.groupdict()))
    # Literal segments win over params ("/users/me" before "/users/{userId}").
    found.sort(key=lambda item: len(item[1]))
    return found
