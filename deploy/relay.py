"""The relay's Railway settings, checked (not deployed: Railway builds the image itself).

No Docker engine runs where the deploy runs, and Railway builds from `realtime-relay/Dockerfile`
on its side; what can go wrong here is the config: a Dockerfile path that moved, a COPY of a
directory that is gone, a start command that is not the image's program, a health check path
the relay does not serve. `GOOGLE_CREDENTIALS_JSON` (the relay's service-account key, a Railway
variable) becomes the file ADC reads, because Railway variables are strings and ADC reads a path.
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAILWAY = ROOT / "realtime-relay" / "railway.json"


def _cmd(dockerfile: str) -> list[str]:
    match = re.search(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.M)
    return json.loads(match.group(1)) if match else []


def check(railway: Path = RAILWAY) -> list[str]:
    errors = []
    config = json.loads(railway.read_text())
    build, deploy = config.get("build", {}), config.get("deploy", {})
    if build.get("builder") != "DOCKERFILE":
        errors.append("railway.json: build.builder must be DOCKERFILE")
    dockerfile = ROOT / build.get("dockerfilePath", "")
    if not dockerfile.is_file():
        errors.append(f"railway.json: dockerfilePath {build.get('dockerfilePath')!r} does not exist")
        return errors
    text = dockerfile.read_text()
    for line in re.findall(r"^COPY\s+(.+)$", text, re.M):
        for source in shlex.split(line)[:-1]:
            if not source.startswith("--") and not (ROOT / source).exists():
                errors.append(f"{build['dockerfilePath']}: COPY source {source} does not exist")
    program = " ".join(_cmd(text))
    if program and program not in deploy.get("startCommand", program):
        errors.append(f"railway.json: startCommand does not run the image's program ({program})")
    relay_web = (ROOT / "realtime-relay" / "relay" / "server.py").read_text()
    if f'"{deploy.get("healthcheckPath")}"' not in relay_web:
        errors.append(f"railway.json: healthcheckPath {deploy.get('healthcheckPath')} is not a relay route")
    return errors


def note() -> str:
    return ("relay: realtime-relay/railway.json and its Dockerfile are valid; Railway builds and runs them "
            "(railway up, or its GitHub integration): see docs/deploy.md")
