"""A local fake of the Google Cloud control-plane APIs that `gcloud` calls during a deploy.

The real gcloud is pointed at it (`env()`): every API's endpoint override is
`http://127.0.0.1:PORT/<api>/`, and gcloud's HTTP proxy is this same server, because Cloud Run's
client prefixes the region to the host (`us-central1-127.0.0.1`), a name that only a proxy
(which never resolves it) can reach. The fake keeps resources in memory, answers in each API's
JSON wire format (long-running operations that finish on their first poll, upload URLs for
function sources), and records every request so tests assert on the bodies gcloud sent.

It implements what `deploy/` calls and nothing more; an unknown route answers 404 and is recorded
in `unhandled`, so a test notices a call the fake does not know.
"""
from __future__ import annotations

import base64
import copy
import io
import itertools
import json
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fakes import LocalServer

APIS = ("cloudfunctions", "run", "pubsub", "cloudtasks", "cloudscheduler", "iam", "secretmanager",
        "serviceusage", "cloudresourcemanager", "cloudbuild", "storage", "apigateway")
TOKEN = "fake-google-access-token"


@dataclass
class Call:
    api: str
    method: str
    path: str                 # without the api prefix and version, e.g. "projects/p/topics/t"
    query: dict[str, str]
    body: object              # parsed JSON, raw bytes, or None
    host: str = ""
    version: str = ""

    def __repr__(self) -> str:
        return f"{self.method} {self.api}:{self.path}"


class Error(Exception):
    def __init__(self, status: int, message: str, reason: str):
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


def not_found(name: str) -> Error:
    return Error(404, f"Resource '{name}' was not found", "NOT_FOUND")


def conflict(name: str) -> Error:
    return Error(409, f"Resource '{name}' already exists", "ALREADY_EXISTS")


def _set_path(target: dict, dotted: str, source: dict) -> None:
    """Copy field `dotted` (an updateMask path) from source into target; absent means cleared."""
    keys = [_camel(k) for k in dotted.split(".")]
    src, dst = source, target
    for key in keys[:-1]:
        src = src.get(key, {}) if isinstance(src, dict) else {}
        dst = dst.setdefault(key, {})
    if keys[-1] in src:
        dst[keys[-1]] = copy.deepcopy(src[keys[-1]])
    else:
        dst.pop(keys[-1], None)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@dataclass
class FakeGoogleApis(LocalServer):
    port: int
    project: str = "utalk-test"
    project_number: str = "123456789012"
    calls: list[Call] = field(default_factory=list)
    unhandled: list[Call] = field(default_factory=list)
    resources: dict[str, dict] = field(default_factory=dict)   # "api:full/name" -> JSON
    uploads: dict[str, bytes] = field(default_factory=dict)   # upload id -> zip bytes

    def __post_init__(self):
        self._ids = itertools.count(1)
        self._serve(_handler(self))

    # -- what tests use ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, config_dir: Path, token_file: Path) -> dict[str, str]:
        """The environment that points the real gcloud at this fake with a throwaway config."""
        token_file.write_text(TOKEN)
        env = {
            "CLOUDSDK_CONFIG": str(config_dir),
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
            "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": str(token_file),
            "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
            "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
            "CLOUDSDK_PROXY_TYPE": "http",
            "CLOUDSDK_PROXY_ADDRESS": "127.0.0.1",
            "CLOUDSDK_PROXY_PORT": str(self.port),
        }
        for api in APIS:
            env[f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api.upper()}"] = f"{self.base_url}/{api}/"
        env["CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE"] = f"{self.base_url}/storage/v1/"  # gcloud appends b/...
        return env

    def get(self, api: str, name: str) -> dict | None:
        with self.lock:
            found = self.resources.get(f"{api}:{name}")
            return copy.deepcopy(found) if found is not None else None

    def add_secret_version(self, secret: str, value: str) -> None:
        """What `gcloud secrets versions add` does, without a gcloud start (test setup)."""
        from fakes import google_routes
        with self.lock:
            name = f"projects/{self.project_number}/secrets/{secret}"
            self._get("secretmanager", name)
            number = len(self._list("secretmanager", name, "versions")) + 1
            self._put("secretmanager", f"{name}/versions/{number}", {
                "name": f"{name}/versions/{number}", "state": "ENABLED", "createTime": google_routes.NOW})
            self.resources[f"secretmanager:{name}/versions/{number}#data"] = {"data": b64(value)}

    def upload_files(self, function_name: str) -> dict[str, bytes]:
        """The files of the source zip the function was last deployed from."""
        fn = self.get("cloudfunctions", function_name)
        upload = fn["buildConfig"]["source"]["storageSource"]["object"]
        with zipfile.ZipFile(io.BytesIO(self.uploads[upload])) as zf:
            return {n: zf.read(n) for n in zf.namelist()}

    # -- store -----------------------------------------------------------------------------
    def _next(self) -> int:
        return next(self._ids)

    def _put(self, api: str, name: str, obj: dict) -> dict:
        key = f"{api}:{name}"
        if key in self.resources:
            raise conflict(name)
        self.resources[key] = obj
        return obj

    def _get(self, api: str, name: str) -> dict:
        try:
            return self.resources[f"{api}:{name}"]
        except KeyError:
            raise not_found(name) from None

    def _list(self, api: str, parent: str, collection: str) -> list[dict]:
        prefix = f"{api}:{parent}/{collection}/"
        return [copy.deepcopy(v) for k, v in sorted(self.resources.items())
                if k.startswith(prefix) and "/" not in k[len(prefix):] and "#" not in k]

    def _patch(self, api: str, name: str, body: dict, mask: str | None) -> dict:
        current = self._get(api, name)
        if mask:
            for dotted in mask.split(","):
                _set_path(current, dotted.strip(), body)
        else:
            current.update(copy.deepcopy(body))
        return current

    def _operation(self, api: str, parent: str, response: dict | None, *, metadata: dict | None = None,
                   done: bool = False) -> dict:
        """A long-running operation; gcloud polls it and it is done on the first poll."""
        name = f"{parent}/operations/operation-{self._next()}"
        op = {"name": name, "done": done, "metadata": metadata or {}}
        finished = {**op, "done": True, "response": response or {}}
        self.resources[f"{api}:{name}"] = finished
        return finished if done else op


def _handler(fake: FakeGoogleApis):
    from fakes import google_routes

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _reply(self, status: int, body, content_type: str = "application/json") -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw and "json" in (self.headers.get("Content-Type") or "json") else raw
            except ValueError:
                body = raw
            api, _, rest = url.path.lstrip("/").partition("/")
            version, _, path = rest.partition("/")
            if api == "upload":   # the signed URL a function source goes to
                path, version = rest, ""
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            call = Call(api, self.command, path, query, body or None, url.netloc or self.headers.get("Host", ""),
                        version)
            with fake.lock:
                fake.calls.append(call)
                if api != "upload" and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, _error(Error(401, "Request had invalid authentication credentials.",
                                                         "UNAUTHENTICATED")))
                try:
                    result = google_routes.dispatch(fake, call, version)
                except Error as err:
                    return self._reply(err.status, _error(err))
                if result is None:
                    fake.unhandled.append(call)
                    return self._reply(404, _error(Error(404, f"fake has no route for {call!r}", "NOT_FOUND")))
            status, payload = result if isinstance(result, tuple) else (200, result)
            self._reply(status, payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


def _error(err: Error) -> dict:
    return {"error": {"code": err.status, "message": err.message, "status": err.reason}}


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()
