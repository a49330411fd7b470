"""Fail closed, through the real processes: a gateway and a relay started as deployed instances
(K_SERVICE / RAILWAY_ENVIRONMENT set) refuse to serve without their secrets, and serve with them."""
from __future__ import annotations

import json
import re
import shlex

import pytest
import requests

from tests.production_env import production_env
from utalk import manifest

# Everything the test stack sets that a deployed instance would not have (None = unset).
DEPLOYED = {"UTALK_ENV": None, "UTALK_OIDC_CERTS_URL": None, "UTALK_GATEWAY_URL": None,
            "UTALK_INVOKER_SERVICE_ACCOUNT": None}


def log_since(stack, name: str, start: dict) -> str:
    """What process `name` logged since `start` (the stack appends to one log file per name)."""
    path = stack.state_dir / f"{name}.log"
    with open(path, "rb") as f:
        f.seek(start.get(name, 0))
        return f.read().decode(errors="replace")


def log_sizes(stack) -> dict:
    return {p.stem: p.stat().st_size for p in stack.state_dir.glob("*.log")}


def routes():
    """One request per manifest function: public ones by method and path, internal ones at their URL."""
    for fn in manifest.FUNCTIONS:
        if fn.public:
            yield fn.name, fn.method, re.sub(r"\{\w+\}", "x", fn.path)
        else:
            yield fn.name, "POST", f"/_fn/{fn.name}"


def call_every_route(base: str) -> dict[str, requests.Response]:
    with requests.Session() as s:
        return {name: s.request(method, base + path, json={}, timeout=30) for name, method, path in routes()}


@pytest.fixture
def deployed_gateway(stack):
    """Start a gateway configured as a deployed instance with `env`; stopped after the test."""
    started = []

    def start(env: dict) -> str:
        port = stack.ports.gateway + 55   # not a multiple of 10: xdist workers shift by 10
        stack.start_gateway(workers=1, threads=4, port=port, name="gateway-deployed", extra_env={**DEPLOYED, **env})
        started.append(port)
        return f"http://127.0.0.1:{port}"
    yield start
    if started:
        stack.stop("gateway-deployed")


def _refused_everywhere(base: str) -> None:
    for name, r in call_every_route(base).items():
        assert r.status_code == 503, (name, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "misconfigured", (name, r.text[:200])


def test_a_deployed_function_without_secrets_answers_503_on_every_route(stack, deployed_gateway):
    start = log_sizes(stack)
    base = deployed_gateway({"K_SERVICE": "utalk-api"})
    _refused_everywhere(base)
    log = log_since(stack, "gateway-deployed", start)
    assert '"severity": "CRITICAL"' in log and "UTALK_JWT_SECRET is required" in log \
        and "UTALK_INVOKER_SERVICE_ACCOUNT is required" in log


def test_local_mode_is_refused_on_a_managed_runtime(stack, deployed_gateway):
    # Every secret present: only the declared environment is wrong.
    start = log_sizes(stack)
    base = deployed_gateway({**production_env(UTALK_ENV="local"), "FIREBASE_SERVICE_ACCOUNT": _service_account(stack)})
    _refused_everywhere(base)
    assert "refused on a managed runtime" in log_since(stack, "gateway-deployed", start)


def test_a_deployed_function_with_its_secrets_serves(stack, deployed_gateway):
    base = deployed_gateway({**production_env(), "FIREBASE_SERVICE_ACCOUNT": _service_account(stack)})
    answers = call_every_route(base)
    for name, r in answers.items():
        assert r.status_code < 500, (name, r.status_code, r.text[:200])
    assert answers["health"].json() == {"status": "ok", "env": "production"}
    assert answers["auth_login"].status_code == 422          # validated, not refused
    for fn in manifest.FUNCTIONS:
        if not fn.public:                                     # no OIDC token: the caller is refused
            assert answers[fn.name].status_code == 401, fn.name


def _service_account(stack) -> str:
    from devstack import service_account
    return str(service_account.ensure(stack.state_dir, stack.project))


def _relay_env(env: dict) -> dict:
    return {**DEPLOYED, "RELAY_SUBSCRIPTION": "realtime-events--relay-deployed",
            "RELAY_INBOUND_SUBSCRIPTION": "message-received--relay-deployed", **env}


def railway_command(environment: str = "production") -> list[str]:
    """The relay's start command on Railway, as railway.json gives it for `environment`."""
    from devstack.stack import ROOT

    cfg = json.loads((ROOT / "realtime-relay/railway.json").read_text())
    command = ((cfg.get("environments") or {}).get(environment, {}).get("deploy", {}).get("startCommand")
               or cfg["deploy"]["startCommand"])
    return shlex.split(command)


def test_the_relay_image_and_railway_set_the_environment_explicitly():
    from devstack.stack import ROOT

    assert "UTALK_ENV=production" in (ROOT / "realtime-relay/Dockerfile").read_text()
    assert railway_command()[:2] == ["env", "UTALK_ENV=production"]
    assert railway_command("staging")[:2] == ["env", "UTALK_ENV=staging"]


def test_a_deployed_relay_without_secrets_exits_non_zero(stack):
    start = log_sizes(stack)
    proc = stack.spawn_relay(port=stack.ports.relay + 55, name="relay-deployed", command=railway_command(),
                             extra_env=_relay_env({"RAILWAY_ENVIRONMENT": "production"}))
    try:
        code = proc.wait(timeout=60)
    finally:
        stack.stop("relay-deployed")
    assert code != 0
    log = log_since(stack, "relay-deployed", start)
    assert '"severity": "CRITICAL"' in log and "UTALK_CREDENTIALS_KEY is required" in log \
        and "UTALK_INVOKER_SERVICE_ACCOUNT is required" in log


def test_a_deployed_relay_with_its_secrets_serves_and_stops_cleanly(stack):
    port = stack.ports.relay + 55
    env = production_env(K_SERVICE=None, RAILWAY_ENVIRONMENT="production")
    stack.start_relay(port=port, name="relay-deployed", extra_env=_relay_env(env), command=railway_command())
    try:
        health = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        proc = stack.procs["relay-deployed"]
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        stack.stop("relay-deployed")
