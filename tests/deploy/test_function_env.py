"""What a deployed function is given: the secret versions it mounts (the newest enabled one and, for
the secrets rotated without a gap, the one before it as <NAME>_PREVIOUS while it is still enabled)
and its CORS origins."""
from __future__ import annotations

from deploy import plan, spec
from deploy.state import State
from deploy.target import Target
from utalk import manifest

TARGET = Target(project="utalk-test", region="us-central1", project_number="123")


def mounts(versions: dict[str, list[int]], fn_name: str = "auth_login") -> list[str]:
    state = State(secrets={name: {"versions": v, "labels": {}} for name, v in versions.items()})
    flags = plan.function_settings(manifest.get(fn_name), spec.load(), TARGET, state)
    return flags[flags.index("--set-secrets") + 1].split(",")


def test_one_enabled_version_is_mounted_alone():
    assert mounts({"UTALK_JWT_SECRET": [1], "UTALK_CREDENTIALS_KEY": [1]}) == [
        "UTALK_JWT_SECRET=UTALK_JWT_SECRET:1", "UTALK_CREDENTIALS_KEY=UTALK_CREDENTIALS_KEY:1"]


def test_a_rotation_mounts_the_new_version_and_the_previous_one_to_verify_and_open_with():
    got = mounts({"UTALK_JWT_SECRET": [3, 2], "UTALK_CREDENTIALS_KEY": [5, 4]})
    assert got == ["UTALK_JWT_SECRET=UTALK_JWT_SECRET:3", "UTALK_CREDENTIALS_KEY=UTALK_CREDENTIALS_KEY:5",
                   "UTALK_JWT_SECRET_PREVIOUS=UTALK_JWT_SECRET:2",
                   "UTALK_CREDENTIALS_KEY_PREVIOUS=UTALK_CREDENTIALS_KEY:4"]


def test_other_secrets_never_mount_a_previous_version():
    got = mounts({"UTALK_JWT_SECRET": [1], "UTALK_CREDENTIALS_KEY": [1], "FIREBASE_SERVICE_ACCOUNT": [2, 1]},
                 "auth_firebase_token")
    assert "FIREBASE_SERVICE_ACCOUNT=FIREBASE_SERVICE_ACCOUNT:2" in got
    assert not any(m.startswith("FIREBASE_SERVICE_ACCOUNT_PREVIOUS") for m in got)


def test_cors_origins_reach_every_function_and_malformed_ones_are_refused():
    from deploy import target

    good, bad = target.origins("https://app.example.com, http://localhost:5173/,ftp://x,https://x.com/path,,")
    assert good == ("https://app.example.com", "http://localhost:5173")
    assert bad == ["ftp://x", "https://x.com/path"]
    env = Target("p", "r", "1", "https://api.example.com", good).env(manifest.get("users_list"))
    assert env["UTALK_CORS_ORIGINS"] == "https://app.example.com,http://localhost:5173"
    assert "UTALK_CORS_ORIGINS" not in TARGET.env(manifest.get("users_list"))


def test_a_malformed_cors_origin_refuses_the_deploy_before_any_call():
    import io

    from deploy import run

    out = io.StringIO()
    assert run.main(["--project", "p", "--region", "r", "--cors-origins", "https://ok.example.com,app.example.com"],
                    out=out) == 2
    assert "refusing to deploy; nothing was called" in out.getvalue() and "'app.example.com'" in out.getvalue()
