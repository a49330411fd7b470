"""Which secret versions a function mounts: the newest enabled one, and for the secrets rotated
without a gap the one before it as <NAME>_PREVIOUS while it is still enabled."""
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
