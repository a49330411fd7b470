"""Running scripts/deploy and scripts/rollback against the fake Google APIs, and what a run leaves."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fakes.google_api import Call, FakeGoogleApis
from utalk import manifest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROJECT, REGION = "utalk-test", "us-central1"
SECRET_VALUES = {s: f"secret-value-of-{s.lower()}-0123456789abcdef0123456789" for s in manifest.SECRETS}


def fake_port(index: int = 0) -> int:
    """25000-25999: clear of the test stacks; shifted by the port offset like them."""
    return 25000 + (int(os.environ.get("UTALK_TEST_PORT_OFFSET", "0")) + index * 7) % 1000


@dataclass
class Run:
    returncode: int
    output: str
    calls: list[Call]

    def mutations(self) -> list[Call]:
        """Requests that change the project (reads, IAM reads and source uploads excluded)."""
        return [c for c in self.calls if c.method != "GET" and c.api != "upload"
                and not c.path.endswith((":getIamPolicy", ":generateUploadUrl"))]

    def bodies(self, api: str, method: str, path: str = "") -> list:
        import re
        return [c.body for c in self.calls if c.api == api and c.method == method and re.search(path, c.path)]


class Project:
    """One fake project and the way to run scripts/deploy or scripts/rollback against it."""

    def __init__(self, fake: FakeGoogleApis, home: Path):
        self.fake, self.home = fake, home
        self.env = {**os.environ, **fake.env(home / "gcloud", home / "token"),
                    "UTALK_FIREBASE": str(HERE / "record_firebase.sh"),
                    "UTALK_FIREBASE_RECORD": str(home / "firebase-command.txt"),
                    "PYTHONPATH": f"{HERE / 'manifests'}:{ROOT}:{ROOT / 'shared'}"}

    def run(self, script: str, *args: str, manifest: str | None = None) -> Run:
        before = len(self.fake.calls)
        # 4 gcloud processes at a time: the fake answers at once, so more only crowds the 2 cores
        # that the other test workers share.
        argv = [str(ROOT / "scripts" / script), "--project", PROJECT, "--region", REGION, "--workers", "4", *args]
        if script == "deploy":
            argv += ["--function-workers", "4"]
        if manifest:
            argv += ["--manifest", manifest]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=900)
        with self.fake.lock:
            calls = list(self.fake.calls[before:])
        return Run(proc.returncode, proc.stdout + proc.stderr, calls)


