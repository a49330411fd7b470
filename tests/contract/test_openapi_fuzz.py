"""schemathesis against the running stack with the committed OpenAPI: every operation, as an admin
and as an agent. Pass: no 5xx, every status declared, every body and header as declared.

Examples per operation are capped (SCHEMATHESIS_MAX_EXAMPLES, default 6) so the run stays within a
few minutes on a shared machine; the counts of what was sent are written to
`.devstack/test-<offset>/schemathesis-summary.json` at the end (docs/api-contract.md).
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

pytestmark = pytest.mark.stack

SCHEMA = schemathesis.openapi.from_dict(json.loads(openapi.DOC.read_text()))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
SENT: collections.Counter = collections.Counter()   # (operationId, role, status) -> requests


class Caller:
    def __init__(self, base: str, tokens: dict[str, str]):
        self.base, self.tokens = base, tokens
        self.session = requests.Session()


@pytest.fixture(scope="module")
def caller(stack):
    """A workspace with an admin and an agent (and the agent's profile), logged in once."""
    base = f"http://127.0.0.1:{stack.ports.gateway}"
    admin = new_admin()
    admin_token = login(_Api(base), admin["email"])["token"]
    agent_email = f"fuzz-agent-{admin['id'][:6]}@example.com"
    r = requests.post(f"{base}/api/v1/users", json={"email": agent_email, "password": PASSWORD, "role": "agent",
                                                    "name": "Fuzz Agent", "agent": {"skills": ["sales"]}},
                      headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
    assert r.status_code == 201, r.text
    agent_token = login(_Api(base), agent_email)["token"]
    yield Caller(base, {"admin": admin_token, "agent": agent_token})
    _write_summary(stack)


class _Api:
    def __init__(self, base):
        self.base = base

    def post(self, path, **kw):
        return requests.post(self.base + path, timeout=30, **kw)


def _write_summary(stack) -> None:
    ops = sorted({op for op, _, _ in SENT})
    summary = {"operations": len(ops), "requests": sum(SENT.values()),
               "byStatus": dict(sorted(collections.Counter({str(s): 0 for _, _, s in SENT}).items())),
               "byOperation": {op: {f"{role} {status}": n for (o, role, status), n in sorted(SENT.items()) if o == op}
                               for op in ops}}
    for (_, _, status), n in SENT.items():
        summary["byStatus"][str(status)] += n
    (stack.state_dir / "schemathesis-summary.json").write_text(json.dumps(summary, indent=2))
    print("\nschemathesis:", json.dumps({k: summary[k] for k in ("operations", "requests", "byStatus")}))


@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True,
          derandomize=True)
def test_every_operation_answers_as_declared(case, caller):
    for role, token in caller.tokens.items():
        headers = {"Authorization": f"Bearer {token}"} if case.operation.definition.raw.get("security") else {}
        response = case.call(base_url=caller.base, session=caller.session, headers=headers)
        SENT[(case.operation.definition.raw["operationId"], role, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)
