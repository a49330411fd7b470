"""Internal functions check their caller: only a Google-signed OIDC token of the invoker service
account, for the function's own URL, gets in. Every internal function of the manifest, every bad
token (signed by the stack's stand-in for Google's key, or not signed at all): 401/403 and nothing
changed; the same request with a good token does change something, so the refusals are real."""
from __future__ import annotations

import time

import jwt
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
    """Pub/Sub push reaches subscribers only through the local stand-in for Google's push service
    (devstack/pusher.py), which pushes each subscription to its function's own URL with the token
    of the push config production's subscription is created with; the subscription itself has
    production's retry and dead-letter policies."""
    from google.cloud import pubsub_v1

    from devstack.provision import subscription_name, subscription_request
    from devstack.pusher import subscriber_pushers
    from utalk import manifest
    from utalk.config import settings

    cfg = settings()
    pushers = {p.subscription: p for p in subscriber_pushers()}
    with pubsub_v1.SubscriberClient() as subscriber:
        for fn in INTERNAL:
            if not fn.topic:
                continue
            sub = subscriber.get_subscription(subscription=subscriber.subscription_path(
                cfg.project_id, subscription_name(fn)))
            assert not sub.push_config.push_endpoint          # the emulator does not push it: the pusher does
            pusher = pushers[sub.name]
            assert pusher.endpoint == f"http://127.0.0.1:{stack.ports.gateway}/_fn/{fn.name}"
            claims = jwt.decode(pusher.token(), options={"verify_signature": False})
            oidc_config = subscription_request(fn, cfg)["push_config"]["oidc_token"]
            assert claims["email"] == oidc_config["service_account_email"] == cfg.invoker_service_account
            assert claims["aud"] == oidc_config["audience"] == f"{cfg.functions_base_url}/{fn.name}"
            assert pusher.ack_deadline == sub.ack_deadline_seconds
            assert pusher.max_backoff == sub.retry_policy.maximum_backoff.seconds == manifest.PUSH_MAX_BACKOFF_SECONDS
            assert sub.dead_letter_policy.dead_letter_topic.endswith(f"/topics/{manifest.DEAD_LETTER_TOPIC}")
            assert sub.dead_letter_policy.max_delivery_attempts == manifest.MAX_DELIVERY_ATTEMPTS
