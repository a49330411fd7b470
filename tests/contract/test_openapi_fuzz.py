"""schemathesis against the running stack with the committed OpenAPI: every operation, as an admin
and as an agent. Pass: no 5xx, every status declared, every body and header as declared, and data
that violates the schema refused with a 4xx.

Random path ids only ever meet 404s, so every other case of an operation with path params names a
real resource of the caller's workspace instead (a conversation, channel, user, escalation, media
seeded below): the handlers then run their whole path on generated bodies and queries.
Examples per operation are capped (SCHEMATHESIS_MAX_EXAMPLES, default 6) so the run stays within a
few minutes on a shared machine; what was sent is counted into
`.devstack/test-<offset>/schemathesis-summary.json` (docs/api-contract.md).
"""
from __future__ import annotations

import collections
import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

from contract import openapi
from helpers import PASSWORD, login, new_admin
from messaging_support import INBOUND, conv_id, inbound_form, new_number, post_signed

pytestmark = pytest.mark.stack

SCHEMA = schemathesis.openapi.from_dict(json.loads(openapi.DOC.read_text()))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
# Callers per role, taking turns: one user's 100 requests a minute (utalk/limits.py) would turn most
# of the run into 429s.
CALLERS = 4
SENT: collections.Counter = collections.Counter()   # (operationId, role, status) -> requests
CASES: collections.Counter = collections.Counter()  # operationId -> cases generated


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
            (f"agent{i}", "agent") for i in range(CALLERS)] + [("other", "agent")]:
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
    yield {"base": base,
           "tokens": {"admin": [admin_api.session.headers["Authorization"]] + [
                          bearer(users[f"admin{i}"]["email"]) for i in range(1, CALLERS)],
                      "agent": [bearer(users[f"agent{i}"]["email"]) for i in range(CALLERS)]},
           "ids": {"conversationId": conversation, "channelId": channel["id"], "userId": users["other"]["id"],
                   "escalationId": escalation["id"], "mediaId": media["mediaId"]}}
    _write_summary(stack)


def _write_summary(stack) -> None:
    ops = sorted(CASES)
    by_status = collections.Counter()
    for (_, _, status), n in SENT.items():
        by_status[str(status)] += n
    summary = {"operations": len(ops), "cases": sum(CASES.values()), "requests": sum(SENT.values()),
               "byStatus": dict(sorted(by_status.items())),
               "byOperation": {op: {f"{role} {status}": n for (o, role, status), n in sorted(SENT.items()) if o == op}
                               for op in ops}}
    (stack.state_dir / "schemathesis-summary.json").write_text(json.dumps(summary, indent=2))
    print("\nschemathesis:", json.dumps({k: summary[k] for k in ("operations", "cases", "requests", "byStatus")}))


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
    for role, tokens in world["tokens"].items():
        token = tokens[CASES[name] % CALLERS]
        headers = {"Authorization": token} if case.operation.definition.raw.get("security") and not own_auth else {}
        response = case.call(base_url=world["base"], headers=headers)
        SENT[(name, role, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)
