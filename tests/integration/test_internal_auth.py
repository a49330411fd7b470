"""Internal functions check their caller: only a Google-signed OIDC token of the invoker service
account, for the function's own URL, gets in. Every internal function of the manifest, every bad
token (signed by the stack's stand-in for Google's key, or not signed at all): 401/403 and nothing
changed; the same request with a good token does change something, so the refusals are real."""
from __future__ import annotations

import time

import pytest

from internal_support import INTERNAL, PREPARE, bad_authorizations, good_authorization, post, snapshot
from messaging_support import wait_for


def test_every_internal_function_has_a_scenario():
    assert set(PREPARE) == {fn.name for fn in INTERNAL}


@pytest.mark.parametrize("name", [fn.name for fn in INTERNAL])
def test_only_the_invoker_gets_in(api, name):
    target = PREPARE[name](api)
    before = snapshot(target.workspace_id)
    for case, authorization, status in bad_authorizations(name):
        r = post(api, name, target.body, authorization)
        assert r.status_code == status, (case, r.status_code, r.text)
        assert r.json()["error"]["code"] in ("missing_token", "invalid_token", "wrong_caller"), (case, r.text)
    time.sleep(1.0)   # anything a refused call had enqueued would have run by now
    assert snapshot(target.workspace_id) == before and not target.changed()
    r = post(api, name, target.body, good_authorization(name))
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    wait_for(target.changed)


def test_the_local_chain_authenticates_like_production(api, stack):
    """Pub/Sub push reaches subscribers only through the gateway's stand-in for Google's push
    service, which attaches the token the subscription's push_config.oidc_token asks for."""
    from google.cloud import pubsub_v1

    from devstack.provision import subscription_name
    from utalk import manifest
    from utalk.config import settings

    cfg = settings()
    with pubsub_v1.SubscriberClient() as subscriber:
        for fn in INTERNAL:
            if not fn.topic:
                continue
            sub = subscriber.get_subscription(subscription=subscriber.subscription_path(
                cfg.project_id, subscription_name(fn)))
            assert sub.push_config.push_endpoint == f"http://127.0.0.1:{stack.ports.gateway}/_push/{fn.name}"
            assert sub.push_config.oidc_token.service_account_email == cfg.invoker_service_account
            assert sub.push_config.oidc_token.audience == f"{cfg.functions_base_url}/{fn.name}"
            assert sub.dead_letter_policy.dead_letter_topic.endswith(f"/topics/{manifest.DEAD_LETTER_TOPIC}")
            assert sub.dead_letter_policy.max_delivery_attempts == manifest.MAX_DELIVERY_ATTEMPTS
            assert sub.retry_policy.maximum_backoff.seconds == manifest.PUSH_MAX_BACKOFF_SECONDS
