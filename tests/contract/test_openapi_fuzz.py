"""schemathesis against the running stack with the committed OpenAPI: every operation, as an admin
and as an agent. Pass: no 5xx, every status declared, every body and header as declared, and data
that violates the schema refused with a 4xx.

Random path ids only ever meet 404s, so every other case of an operation with path params names a
real resource of the caller's workspace instead (a conversation, channel, user, escalation, media
seeded below): the handlers then run their whole path on generated bodies and queries.
The web chat's visitor routes take a visitor's token (`visitorAuth`), so the world also has a web
channel with visitors in session: its `channelKey` fills the path and a visitor's token the
Authorization of those routes. The world has a feature flag workspaces may override, for the flag
routes' `flagKey`.

A second test runs schemathesis's state machine over the document's links (create a user, then
get, change and deactivate that user; create a channel, then get, change and delete it; ...), as
an admin, with the same checks.

Examples per operation are capped (SCHEMATHESIS_MAX_EXAMPLES, default 6) so the run stays within a
few minutes on a shared machine; what was sent is counted into
`.devstack/test-<offset>/schemathesis-summary.json` (docs/api-contract.md).
"""
from __future__ import annotations

import collections
import itertools
import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

from contract import openapi
from helpers import PASSWORD, login, new_admin
from messaging_support import INBOUND, conv_id, inbound_form, new_number, post_signed
from utalk.services import flags

pytestmark = pytest.mark.stack

SCHEMA = schemathesis.openapi.from_dict(json.loads(openapi.DOC.read_text()))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
# Callers per role, taking turns: one user's 100 requests a minute (utalk/limits.py) would turn most
# of the run into 429s.
CALLERS = 8
SENT: collections.Counter = collections.Counter()   # (operationId, role, status) -> requests
CASES: collections.Counter = collections.Counter()  # operationId -> cases generated
STATEFUL_CALLS: collections.Counter = collections.Counter()  # operationId -> calls of the stateful run
TOKEN_SCHEMES = {"bearerAuth", "visitorAuth"}
REACHED: set[str] = set()   # operations that answered a 2xx to their own method
FLAG = "analytics.export_agent_names"


class _Api:
    """What the helpers need of an API client: a base URL, a session, post()."""

    def __init__(self, base: str, token: str | None = None):
        self.base, self.session = base, requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path, **kw):
        return self.session.post(self.base + path, timeout=30, **kw)


def _created(response: requests.Response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture(scope="module")
def world(stack):
    """A workspace with CALLERS admins and agents (logged in), another user, a channel, a customer's
    conversation (escalated, so it has an escalation) and a pending media."""
    base = f"http://127.0.0.1:{stack.ports.gateway}"
    admin = new_admin()
    admin_api = _Api(base, login(_Api(base), admin["email"])["token"])
    number = new_number()
    channel = _created(admin_api.post("/api/v1/channels", json={"name": "Fuzz", "phoneNumber": number,
                                                                 "provider": "sandbox"}))
    users = {}
    for name, role in [(f"admin{i}", "admin") for i in range(1, CALLERS)] + [
            (f"agent{i}", "agent") for i in range(CALLERS)] + [("other", "agent")] + [
            (f"stateful{i}", "admin") for i in range(CALLERS)]:
        email = f"fuzz-{name}-{admin['id'][:6]}@example.com"
        users[name] = _created(admin_api.post("/api/v1/users", json={
            "email": email, "password": PASSWORD, "role": role, "name": name, "agent": {"skills": ["sales"]}}))
        users[name]["email"] = email
    bearer = lambda email: "Bearer " + login(_Api(base), email)["token"]  # noqa: E731
    customer = "+5215500001111"
    assert post_signed(admin_api, INBOUND, inbound_form(number, customer, "hola")).status_code == 200
    conversation = conv_id(customer, number)
    escalation = _created(admin_api.post(f"/api/v1/conversations/{conversation}/escalate", json={}))["escalation"]
    media = _created(admin_api.post("/api/v1/media/uploads", json={
        "conversationId": conversation, "fileName": "a.png", "contentType": "image/png", "sizeBytes": 10}))
    web = _created(admin_api.post("/api/v1/channels", json={"type": "web", "name": "Fuzz web",
                                                             "allowedOrigins": ["https://shop.example.com"]}))
    # Each visitor from an address of its own: new visitors are limited per client IP.
    visitors = ["Bearer " + _created(admin_api.session.post(
        f"{base}/api/v1/webchat/{web['channelKey']}/sessions", json={},
        headers={"X-Forwarded-For": f"10.99.0.{i + 1}"}, timeout=30))["token"] for i in range(CALLERS)]
    flags.define(FLAG, description="fuzzed", percent=50, overridable=True, operator="fuzz")
    yield {"base": base,
           "tokens": {"admin": [admin_api.session.headers["Authorization"]] + [
                          bearer(users[f"admin{i}"]["email"]) for i in range(1, CALLERS)],
                      "agent": [bearer(users[f"agent{i}"]["email"]) for i in range(CALLERS)]},
           "visitors": visitors,
           "stateful": [bearer(users[f"stateful{i}"]["email"]) for i in range(CALLERS)],
           "ids": {"conversationId": conversation, "channelId": channel["id"], "userId": users["other"]["id"],
                   "escalationId": escalation["id"], "mediaId": media["mediaId"], "channelKey": web["channelKey"],
                   "flagKey": FLAG}}
    _write_summary(stack)


def _write_summary(stack) -> None:
    ops = sorted(set(CASES) | {op for op, _, _ in SENT})
    by_status = collections.Counter()
    for (_, _, status), n in SENT.items():
        by_status[str(status)] += n
    summary = {"operations": len(CASES), "cases": sum(CASES.values()), "requests": sum(SENT.values()),
               "byStatus": dict(sorted(by_status.items())),
               "stateful": {"calls": sum(STATEFUL_CALLS.values()), "byOperation": dict(sorted(STATEFUL_CALLS.items()))},
               "byOperation": {op: {f"{role} {status}": n for (o, role, status), n in sorted(SENT.items()) if o == op}
                               for op in ops}}
    (stack.state_dir / "schemathesis-summary.json").write_text(json.dumps(summary, indent=2))
    print("\nschemathesis:", json.dumps({k: summary[k] for k in ("operations", "cases", "requests", "byStatus")}),
          "stateful calls:", summary["stateful"]["calls"])


def _address() -> str:
    """A client address of its own for each request (what Google's front end appends), so the per-IP
    limits of public routes (new web chat visitors: 10 an hour) do not turn the run into 429s."""
    n = next(_ADDRESSES)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255 or 1}"


_ADDRESSES = itertools.count(1 << 16)


@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True,
          derandomize=True)
def test_every_operation_answers_as_declared(case, world):
    name = case.operation.definition.raw["operationId"]
    CASES[name] += 1
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    # A negative case keeps what made it invalid: its path ids, and an Authorization header it made up.
    if case.path_parameters and not negative and CASES[name] % 2:
        case.path_parameters = {k: world["ids"].get(k, v) for k, v in case.path_parameters.items()}
    own_auth = negative and "Authorization" in (case.headers or {})
    security = {scheme for requirement in case.operation.definition.raw.get("security") or () for scheme in requirement}
    for role, tokens in world["tokens"].items():
        # The visitor routes take a visitor's token whoever else calls; the others the role's JWT.
        token = (world["visitors"] if "visitorAuth" in security else tokens)[CASES[name] % CALLERS]
        headers = {"Authorization": token} if security & TOKEN_SCHEMES and not own_auth else {}
        response = case.call(base_url=world["base"], headers={**headers, "X-Forwarded-For": _address()})
        SENT[(name, "visitor" if "visitorAuth" in security else role, response.status_code)] += 1
        if 200 <= response.status_code < 300 and response.request.method == case.operation.method.upper():
            REACHED.add(name)   # not an OPTIONS the coverage phase sent (204 from any route)
        case.validate_response(response, checks=CHECKS)


# The stateful run: only our links (no inferred ones, so the run is what the document says), from the
# operations that produce what the links carry.
STATEFUL = schemathesis.openapi.from_dict(json.loads(openapi.DOC.read_text()))
STATEFUL.config.phases.stateful.inference.algorithms = []
STATEFUL.config.phases.stateful.generation.modes = [GenerationMode.POSITIVE]   # the stateless run does negatives
STATEFUL_STEPS = int(os.environ.get("SCHEMATHESIS_STATEFUL_STEPS", "6"))


def test_linked_operations_statefully(world):
    """Create -> get/update/delete chains through the document's links, as an admin."""
    calls = collections.Counter()

    class Links(STATEFUL.as_state_machine()):
        def before_call(self, case):
            # A chain starts at a producer; one that names the world's conversation (in its path or
            # body) gets past the 404 a random id meets, so the chain goes on to what it links to.
            name = case.operation.definition.raw["operationId"]
            if name in openapi.LINKS:
                if case.path_parameters:
                    case.path_parameters = {k: world["ids"].get(k, v) for k, v in case.path_parameters.items()}
                if isinstance(case.body, dict) and "conversationId" in case.body:
                    case.body = {**case.body, "conversationId": world["ids"]["conversationId"]}
                # What the schema cannot say: emails are unique (a generated one repeats: 409), and a
                # channel's fields depend on its type (cross-field rules: 422). The chain needs one made.
                if name == "users_create" and isinstance(case.body, dict):
                    case.body = {**case.body, "email": f"chain-{next(_ADDRESSES)}@example.com"}
                if name == "channels_create" and isinstance(case.body, dict):
                    case.body = {"type": "web", "name": case.body.get("name") or "Chain",
                                 "allowedOrigins": ["https://shop.example.com"]}

        def get_call_kwargs(self, case):
            calls[case.operation.definition.raw["operationId"]] += 1
            token = world["stateful"][sum(calls.values()) % CALLERS]
            return {"base_url": world["base"], "headers": {"Authorization": token, "X-Forwarded-For": _address()}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            name = case.operation.definition.raw["operationId"]
            SENT[(name, "stateful", response.status_code)] += 1
            case.validate_response(response, checks=CHECKS)

    Links.run(settings=settings(max_examples=MAX_EXAMPLES * 3, stateful_step_count=STATEFUL_STEPS, deadline=None,
                                suppress_health_check=list(HealthCheck), derandomize=True))
    followed = {name for name in calls if any(name == op for links in openapi.LINKS.values()
                                             for op, _ in links.values())}
    STATEFUL_CALLS.update(calls)
    assert followed, f"no link was followed: {dict(calls)}"


# Routes that only a seeded value gets past 401/404 (a visitor token, a channelKey, a flagKey).
SEEDED = ("webchat_send", "webchat_history", "webchat_typing", "webchat_read", "flags_set_override",
          "flags_clear_override")


def test_the_seeded_routes_were_reached_past_their_refusals(world, request):
    """Runs after the fuzz above (file order): each of SEEDED answered at least one 2xx in it."""
    ran = [op for op in SEEDED if CASES[op]]
    if not ran:
        if request.config.option.keyword:
            pytest.skip("the fuzz of these operations did not run (a -k selection)")
        # Under pytest-xdist the generated per-operation tests are collected but never run, silently:
        # scripts/test runs this folder in a process of its own.
        pytest.fail("the per-operation fuzz did not run in this process (pytest-xdist?)")
    assert REACHED >= set(ran), f"never past 401/404: {sorted(set(ran) - REACHED)}"
