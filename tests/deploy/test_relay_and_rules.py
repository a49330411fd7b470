"""The relay's Railway config and the rules' firebase.json, as the deploy checks them."""
from __future__ import annotations

import json
import os
import stat
import subprocess

from deploy import relay, rules
from deploy_support import ROOT


def test_the_committed_configs_pass():
    assert relay.check() == []
    assert rules.check_config() == []
    firestore = json.loads((ROOT / "firebase.json").read_text())["firestore"]
    assert firestore["database"] == "(default)" and firestore["location"]


def test_a_broken_railway_config_is_refused(tmp_path):
    config = json.loads(relay.RAILWAY.read_text())
    config["build"]["dockerfilePath"] = "relay/Dockerfile"
    (tmp_path / "railway.json").write_text(json.dumps(config))
    assert relay.check(tmp_path / "railway.json") == ["railway.json: dockerfilePath 'relay/Dockerfile' does not exist"]
    config = json.loads(relay.RAILWAY.read_text())
    config["deploy"].update(startCommand="node server.js", healthcheckPath="/status")
    (tmp_path / "railway.json").write_text(json.dumps(config))
    errors = relay.check(tmp_path / "railway.json")
    assert any("startCommand does not run the image's program" in e for e in errors)
    assert any("healthcheckPath /status is not a relay route" in e for e in errors)


def test_the_start_command_hands_the_key_to_adc_in_a_private_file(tmp_path):
    """Railway variables are strings, ADC reads a path: the start command writes one, then execs the relay."""
    (tmp_path / "python").write_text('#!/bin/sh\necho "$GOOGLE_APPLICATION_CREDENTIALS $*"\n'
                                     'cat "$GOOGLE_APPLICATION_CREDENTIALS"\n')
    (tmp_path / "python").chmod(0o755)
    command = json.loads(relay.RAILWAY.read_text())["deploy"]["startCommand"]
    key = '{"type": "service_account", "client_email": "utalk-relay@p.iam.gserviceaccount.com"}'
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "GOOGLE_CREDENTIALS_JSON": key, "TMPDIR": str(tmp_path)}
    out = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30)
    path, args = out.stdout.splitlines()[0].split(" ", 1)
    assert args == "-m relay.server" and out.stdout.splitlines()[1] == key
    assert path == str(tmp_path / "google-credentials.json") and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    plain = subprocess.run(["sh", "-c", command], env={"PATH": env["PATH"]}, capture_output=True, text=True)
    assert plain.stdout.startswith(" -m relay.server")     # no key: ADC's own lookup, nothing written


def test_firebase_json_without_a_pinned_location_is_refused(tmp_path, monkeypatch):
    config = json.loads((ROOT / "firebase.json").read_text())
    del config["firestore"]["location"]
    (tmp_path / "firebase.json").write_text(json.dumps(config))
    for name in ("firestore.rules", "firestore.indexes.json", "storage.rules"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    monkeypatch.setattr(rules, "ROOT", tmp_path)
    assert rules.check_config() == ["firebase.json: firestore.database and firestore.location must be pinned"]
