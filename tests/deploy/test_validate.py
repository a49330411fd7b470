"""Validation refuses what Google would refuse, before any call, naming the manifest row."""
from __future__ import annotations

import dataclasses
import subprocess
import textwrap

import pytest

from deploy import validate
from deploy.spec import load
from deploy_support import PROJECT, REGION, ROOT, fake_port
from fakes.google_api import FakeGoogleApis
from utalk.manifest import Function, Queue

BASE = load()
ROW = Function("probe", "health:health", "GET", "/probe")

CASES = {
    "concurrency above 1 on a fraction of a vCPU": (
        dict(memory="512Mi", concurrency=8), "function probe: concurrency 8 needs at least 1 vCPU"),
    "memory above 1 GiB on a fraction of a vCPU": (
        dict(memory="2Gi", cpu="0.5"), "function probe: memory 2Gi needs at least 1 vCPU"),
    "memory above 512 MiB under half a vCPU": (
        dict(memory="1Gi", cpu="0.25"), "function probe: memory 1Gi needs at least 0.5 vCPU"),
    "too little memory for 4 vCPUs": (dict(memory="512Mi", cpu="4"), "function probe: 4 vCPU needs 2048-16384 MiB"),
    "a vCPU count Cloud Run has not": (dict(memory="4Gi", cpu="3"), "function probe: cpu 3 must be"),
    "a memory size that is no tier": (dict(memory="384Mi"), "function probe: memory 384Mi is not a Cloud Run functions tier"),
    "a name Cloud Run would mangle twice": (dict(name="Probe-Fn"), "function Probe-Fn: name must be lowercase"),
    "a name too long for a service": (dict(name="p" * 50), f"function {'p' * 50}: name longer than 49"),
    "a secret nobody creates": (dict(secrets=("STRIPE_KEY",)), "function probe: secret STRIPE_KEY is not one the deploy creates"),
    "a public function on an internal trigger": (
        dict(method=None, path=None, topic="message-received"), "function probe: public but triggered by pubsub"),
    "an HTTP route that is internal": (dict(public=False), "function probe: an HTTP route must be public"),
    "a timeout over the push maximum": (
        dict(method=None, path=None, topic="message-received", public=False, timeout_seconds=900),
        "function probe: timeout 900s is outside 10-600s"),
    "a timeout over the HTTP maximum": (dict(timeout_seconds=4000), "function probe: timeout 4000s is outside 1-3600s"),
    "min instances above max": (dict(min_instances=5, max_instances=2), "function probe: instances must satisfy"),
    "an unknown identity": (dict(identity="admin"), "function probe: identity 'admin' is not one of"),
    "a bad schedule": (dict(method=None, path=None, schedule="every day", public=False),
                       "function probe: schedule 'every day' is not a five-field cron"),
}
QUEUE_CASES = {
    "a rate over Cloud Tasks' maximum": (dict(max_dispatches_per_second=1000), "queue probe-q: max_dispatches_per_second 1000"),
    "concurrency over Cloud Tasks' maximum": (dict(max_concurrent_dispatches=6000), "queue probe-q: max_concurrent_dispatches 6000"),
    "backoff upside down": (dict(min_backoff_seconds=60, max_backoff_seconds=1), "queue probe-q: backoff must satisfy"),
    "zero attempts": (dict(max_attempts=0), "queue probe-q: max_attempts 0"),
}


def _check(functions=(), queues=()):
    spec = dataclasses.replace(BASE, functions=BASE.functions + tuple(functions), queues=BASE.queues + tuple(queues))
    with pytest.raises(validate.ManifestError) as info:
        validate.check(spec)
    return info.value.errors


def test_the_manifest_is_valid():
    validate.check(BASE)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_each_function_rule_names_its_row(case):
    change, message = CASES[case]
    errors = _check([dataclasses.replace(ROW, **change)])
    assert any(e.startswith(message) for e in errors), errors


@pytest.mark.parametrize("case", QUEUE_CASES, ids=list(QUEUE_CASES))
def test_each_queue_rule_names_its_queue(case):
    change, message = QUEUE_CASES[case]
    errors = _check(queues=[dataclasses.replace(Queue("probe-q", 1, 1), **change)])
    assert any(e.startswith(message) for e in errors), errors


def test_scripts_deploy_lists_every_error_and_calls_nothing(tmp_path):
    """All the bad rows in one manifest: one refusal naming each row, exit 2, no request at all."""
    rows = ",\n".join(f"    dataclasses.replace(ROW, name='bad_{i}', **{change!r})"
                      for i, (change, _) in enumerate(CASES.values()) if "name" not in change)
    (tmp_path / "bad_manifest.py").write_text(textwrap.dedent("""\
        import dataclasses
        from utalk.manifest import Function, Queue, QUEUES as BASE_QUEUES, FUNCTIONS as BASE
        ROW = Function("probe", "health:health", "GET", "/probe")
        QUEUES = BASE_QUEUES + (Queue("probe-q", 1000, 1),)
        FUNCTIONS = BASE + (
        """) + rows + ",\n)\n")
    fake = FakeGoogleApis(fake_port(1)).start()
    try:
        env = {**fake.env(tmp_path / "gcloud", tmp_path / "token"), "PATH": "/usr/bin:/bin",
               "PYTHONPATH": f"{tmp_path}:{ROOT}:{ROOT / 'shared'}"}
        proc = subprocess.run([str(ROOT / "scripts" / "deploy"), "--project", PROJECT, "--region", REGION,
                               "--manifest", "bad_manifest"], env=env, capture_output=True, text=True, timeout=120)
    finally:
        fake.stop()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refusing to deploy; nothing was called" in proc.stdout
    for i, (change, message) in enumerate(CASES.values()):
        if "name" not in change:
            assert message.replace("function probe", f"function bad_{i}") in proc.stdout, message
    assert "queue probe-q: max_dispatches_per_second 1000" in proc.stdout
    assert fake.calls == []
