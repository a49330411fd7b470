"""Each function's source closure and hash: complete enough to run alone, and changed only by what it uses."""
from __future__ import annotations

import ast
import dataclasses
import shutil
import subprocess
import sys

import pytest

from deploy import hashing
from deploy_support import ROOT
from utalk import manifest

HANDLER_MODULES = sorted({f.handler.split(":")[0] for f in manifest.FUNCTIONS})
ONE_PER_MODULE = [next(f for f in manifest.FUNCTIONS if f.handler.startswith(m + ":")) for m in HANDLER_MODULES]
# Runs in a bare interpreter: site-packages yes, but not the repository (the editable utalk install and
# shared/ removed from the path), so a module missing from the staged closure fails the import.
SERVE = """
import os, sys
sys.path = [p for p in sys.path if p != {root!r} and not p.startswith({root!r} + '/shared')]
from functions_framework import create_app
app = create_app({name!r}, 'main.py', {signature!r})
assert sys.modules['utalk'].__file__.startswith(os.getcwd()), sys.modules['utalk'].__file__
"""


@pytest.mark.slow
@pytest.mark.parametrize("fn", ONE_PER_MODULE, ids=lambda f: f.name)
def test_the_staged_source_alone_serves_the_function(fn, tmp_path):
    staged = hashing.stage(fn, tmp_path / "src")
    code = SERVE.format(root=str(ROOT), name=fn.name, signature=fn.signature_type)
    proc = subprocess.run([sys.executable, "-c", code], cwd=staged, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "UTALK_ENV": "test"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (staged / "tests").exists()


def test_the_closure_is_what_the_handler_can_import():
    health = {hashing.staged_name(p) for p in hashing.closure("health")}
    assert {"main.py", "health.py", "utalk/manifest.py", "utalk/http.py", "requirements.txt"} <= health
    assert "utalk/services/inbound.py" not in health and "webhooks_twilio.py" not in health
    webhook = {hashing.staged_name(p) for p in hashing.closure("webhooks_twilio")}
    # lazy imports inside functions count too: the adapter registry imports its adapters on demand
    assert {"utalk/services/inbound.py", "utalk/channels/twilio_whatsapp.py", "utalk/channels/sandbox.py"} <= webhook


@pytest.fixture
def copy_of_sources(tmp_path, monkeypatch):
    """functions/, shared/ and requirements.txt copied, and hashing pointed at the copy."""
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "shared", tmp_path / "shared", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copyfile(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    for name, path in (("FUNCTIONS", "functions"), ("SHARED", "shared"), ("REQUIREMENTS", "requirements.txt"),
                       ("MANIFEST", "shared/utalk/manifest.py")):
        monkeypatch.setattr(hashing, name, tmp_path / path)
    hashing.closure.cache_clear()
    hashing._manifest_digest.cache_clear()
    yield tmp_path
    hashing.closure.cache_clear()
    hashing._manifest_digest.cache_clear()


def _hashes() -> dict[str, str]:
    hashing.closure.cache_clear()
    hashing._manifest_digest.cache_clear()
    return {f.name: hashing.source_hash(f, []) for f in manifest.FUNCTIONS}


def _changed(before: dict, after: dict) -> set[str]:
    return {n for n in before if before[n] != after[n]}


def test_a_handler_module_change_changes_its_functions_only(copy_of_sources):
    before = _hashes()
    with open(copy_of_sources / "functions" / "api_agents.py", "a") as f:
        f.write("\n# a change\n")
    assert _changed(before, _hashes()) == {"agents_set_status"}


def test_a_shared_module_change_changes_the_functions_that_import_it(copy_of_sources):
    before = _hashes()
    with open(copy_of_sources / "shared" / "utalk" / "services" / "inbound.py", "a") as f:
        f.write("\n# a change\n")
    changed = _changed(before, _hashes())
    importers = {f.name for f in manifest.FUNCTIONS
                 if hashing.SHARED / "utalk" / "services" / "inbound.py" in hashing.closure(f.handler.split(":")[0])}
    assert changed == importers and "twilio_inbound" in changed and "health" not in changed


def test_another_rows_deploy_settings_do_not_change_a_hash(copy_of_sources, monkeypatch):
    before = _hashes()
    tuned = tuple(dataclasses.replace(f, memory="1Gi", max_instances=7) if f.name == "users_get" else f
                  for f in manifest.FUNCTIONS)
    monkeypatch.setattr(manifest, "FUNCTIONS", tuned)
    assert _changed(before, _hashes()) == set()   # users_get's own change reaches it through its settings
    moved = tuple(dataclasses.replace(f, path="/api/v1/people/{userId}") if f.name == "users_get" else f
                  for f in manifest.FUNCTIONS)
    monkeypatch.setattr(manifest, "FUNCTIONS", moved)
    assert _changed(before, _hashes()) == set(before)   # a route is wiring every function can read


def test_runtime_code_never_reads_a_deploy_only_setting():
    """What lets the hash ignore other rows' deploy-only settings (manifest.py's docstring)."""
    found = []
    for path in [*(ROOT / "functions").glob("*.py"), *(ROOT / "shared" / "utalk").rglob("*.py")]:
        if path.name == "manifest.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in hashing.DEPLOY_ONLY:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert found == []


def test_the_openapi_function_ships_the_committed_document_and_serves_it_from_its_source(tmp_path):
    """The deployed source has no docs/: the document is staged next to main.py, where the handler reads it."""
    fn = manifest.get("api_openapi")
    staged = hashing.stage(fn, tmp_path / "src")
    assert (staged / "openapi.json").read_bytes() == (ROOT / "docs" / "openapi.json").read_bytes()
    code = SERVE.format(root=str(ROOT), name=fn.name, signature=fn.signature_type) + (
        "resp = app.test_client().get('/api/v1/openapi.json')\n"
        "assert resp.status_code == 200 and resp.data == open('openapi.json', 'rb').read(), resp.status_code\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=staged, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "UTALK_ENV": "test"})
    assert proc.returncode == 0, proc.stderr[-2000:]
