"""Fail closed: where an instance runs decides its environment, and production refuses to serve
without its secrets (pure settings logic; the HTTP and relay behaviour is in test_fail_closed)."""
import base64

import pytest

from tests.production_env import production_env
from utalk.config import ConfigError, load, resolve_env


@pytest.mark.parametrize("marker", ["K_SERVICE", "RAILWAY_ENVIRONMENT"])
def test_a_managed_runtime_is_production_unless_told_staging(marker):
    assert resolve_env({marker: "x"}) == "production"
    assert resolve_env({marker: "x", "UTALK_ENV": "production"}) == "production"
    assert resolve_env({marker: "x", "UTALK_ENV": "staging"}) == "staging"
    for local in ("local", "test"):
        with pytest.raises(ConfigError, match="refused on a managed runtime"):
            resolve_env({marker: "x", "UTALK_ENV": local})


def test_off_a_managed_runtime_the_default_is_local_and_unknown_names_are_refused():
    assert resolve_env({}) == "local"
    assert resolve_env({"UTALK_ENV": "test"}) == "test"
    with pytest.raises(ConfigError, match="not one of"):
        resolve_env({"UTALK_ENV": "prod"})


@pytest.mark.parametrize("marker", ["K_SERVICE", "RAILWAY_ENVIRONMENT"])
def test_a_deployed_instance_without_secrets_lists_every_missing_one(marker):
    with pytest.raises(ConfigError) as err:
        load({marker: "svc"})
    missing = " ".join(err.value.problems)
    for name in ("UTALK_JWT_SECRET", "UTALK_CREDENTIALS_KEY", "UTALK_INVOKER_SERVICE_ACCOUNT",
                 "GOOGLE_CLOUD_PROJECT", "UTALK_FUNCTIONS_BASE_URL", "UTALK_PUBLIC_BASE_URL"):
        assert name in missing, name


def test_production_with_its_secrets_loads_and_exposes_the_credentials_key():
    env = production_env()
    cfg = load(env)
    assert cfg.env == "production" and not cfg.is_local
    assert cfg.credentials_key == base64.b64decode(env["UTALK_CREDENTIALS_KEY"]) and len(cfg.credentials_key) == 32
    assert cfg.invoker_service_account == env["UTALK_INVOKER_SERVICE_ACCOUNT"]
    assert cfg.oidc_certs_url == "https://www.googleapis.com/oauth2/v1/certs"
    assert load({**env, "UTALK_ENV": "staging"}).env == "staging"


@pytest.mark.parametrize("change, problem", [
    ({"UTALK_JWT_SECRET": "short"}, "at least 32"),
    ({"UTALK_JWT_SECRET": "utalk-local-dev-secret-change-me-0123456789abcdef"}, "public development secret"),
    ({"UTALK_CREDENTIALS_KEY": "not base64!"}, "must be base64"),
    ({"UTALK_CREDENTIALS_KEY": base64.b64encode(b"k" * 16).decode()}, "32 bytes"),
    ({"UTALK_INVOKER_SERVICE_ACCOUNT": "invoker"}, "service account email"),
    ({"UTALK_FUNCTIONS_BASE_URL": "http://fn.example.test"}, "https://"),
    # Production can never trust the local signing key's certificates.
    ({"UTALK_OIDC_CERTS_URL": "http://127.0.0.1:9095/oauth2/v1/certs"}, "only allowed in local/test"),
])
def test_production_refuses_bad_values(change, problem):
    with pytest.raises(ConfigError, match=problem):
        load({**production_env(), **change})


def test_local_keeps_its_embedded_defaults():
    cfg = load({"UTALK_ENV": "local"})
    assert cfg.is_local and cfg.credentials_key is None and len(cfg.jwt_secret) >= 32
    assert cfg.invoker_service_account.endswith(".iam.gserviceaccount.com")
    local_certs = load({"UTALK_ENV": "test", "UTALK_OIDC_CERTS_URL": "http://127.0.0.1:1/certs"})
    assert local_certs.oidc_certs_url == "http://127.0.0.1:1/certs"
