"""Names and URLs the manifest takes in one project: the one place they are derived.

Function ids keep the manifest name (underscores included), so a function's URL is
`https://REGION-PROJECT.cloudfunctions.net/<name>`, which is `UTALK_FUNCTIONS_BASE_URL + "/" + name`,
the push endpoint, task target and OIDC audience the code uses. Google runs a gen2 function as the
Cloud Run service named like the function with `_` replaced by `-`; traffic moves (rollback) act on
that service. Validation refuses names that this mapping would make collide or that Cloud Run refuses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from utalk import manifest

RUNTIME = "python311"                     # the interpreter the tests run (pyproject: >=3.11)
IDENTITIES = manifest.ROLES + ("invoker", "relay")
GATEWAY = "utalk"                          # API Gateway: api id and gateway id


def service_name(name: str) -> str:
    """The Cloud Run service Google creates for gen2 function `name`."""
    return name.replace("_", "-").lower()


def subscription_name(fn: manifest.Function) -> str:
    return f"{fn.topic}--{fn.name}"        # as devstack/provision.py names it on the emulator


@dataclass(frozen=True)
class Target:
    project: str
    region: str
    project_number: str = ""
    public_url: str = ""                   # the front door (API Gateway host or a custom domain)
    cors_origins: tuple[str, ...] = ()     # the agent frontend's browser origins (UTALK_CORS_ORIGINS)

    def account(self, identity: str) -> str:
        return f"utalk-{identity}@{self.project}.iam.gserviceaccount.com"

    def member(self, identity: str) -> str:
        return f"serviceAccount:{self.account(identity)}"

    @property
    def functions_base_url(self) -> str:
        return f"https://{self.region}-{self.project}.cloudfunctions.net"

    def function_url(self, name: str) -> str:
        return f"{self.functions_base_url}/{name}"

    @property
    def bucket(self) -> str:
        return f"{self.project}-media"     # settings().bucket's default for the project

    @property
    def pubsub_agent(self) -> str:
        return f"serviceAccount:service-{self.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

    def env(self, fn: manifest.Function) -> dict[str, str]:
        """The environment every deployed function starts with (secrets come separately)."""
        env = {
            "UTALK_ENV": "production",
            "GOOGLE_CLOUD_PROJECT": self.project,
            "UTALK_REGION": self.region,
            "UTALK_FUNCTIONS_BASE_URL": self.functions_base_url,
            "UTALK_BUCKET": self.bucket,
            "UTALK_INVOKER_SERVICE_ACCOUNT": self.account("invoker"),
            # functions-framework's gunicorn runs THREADS threads: one per concurrent request.
            "THREADS": str(fn.concurrency),
        }
        if self.public_url:
            env["UTALK_PUBLIC_BASE_URL"] = self.public_url
        if self.cors_origins:
            env["UTALK_CORS_ORIGINS"] = ",".join(self.cors_origins)
        return env


_ORIGIN = re.compile(r"^(https://[a-z0-9.-]+|http://(localhost|127\.0\.0\.1))(:\d{1,5})?$")


def origins(flag: str) -> tuple[tuple[str, ...], list[str]]:
    """--cors-origins split into (good origins, bad ones): an origin is scheme://host[:port] with no
    path, lower-case as browsers send it, and https unless it is this machine."""
    given = [o.strip() for o in flag.split(",") if o.strip()]
    good = [o for o in given if _ORIGIN.match(o.rstrip("/"))]
    return tuple(dict.fromkeys(o.rstrip("/") for o in good)), [o for o in given if o not in good]
