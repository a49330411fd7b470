"""Downloading the media a provider's webhook points at, from that provider's own hosts only.

A webhook's media URL is only as trustworthy as whoever could sign the webhook, so it is never
fetched blindly: each adapter declares a `MediaPolicy` (the provider's API hosts the URL may name,
the CDN hosts those may redirect to). The URL and every redirect hop are checked before any
connection is made (HTTPS on the default port, exact host, path prefix); redirects are followed
here, one hop at a time, never by the HTTP library; the account's credentials go only to the
provider's API hosts, never to a CDN; the body is cut off past the size cap, and the whole
download past a deadline.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

import requests

_DEFAULT_PORTS = {"https": 443, "http": 80}
_REDIRECTS = (301, 302, 303, 307, 308)


class MediaRefused(Exception):
    """A download refused by policy (`code` goes on the message's `metadata.mediaErrors`)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Origin:
    """One place media may come from: scheme, exact host (or `*.` + a domain: any host under it,
    not the domain itself), port, and a path prefix."""
    host: str
    path_prefix: str = "/"
    scheme: str = "https"
    port: int = 443

    @classmethod
    def of(cls, url: str) -> "Origin":
        """The origin of a base URL, exactly (used for the local fake of a provider)."""
        parts = urlsplit(url)
        return cls(parts.hostname or "", "/", parts.scheme, parts.port or _DEFAULT_PORTS.get(parts.scheme, 0))

    def admits(self, parts: SplitResult) -> bool:
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:  # a port that is not a number
            return False
        host = parts.hostname or ""
        if self.host.startswith("*."):
            matches = host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        else:
            matches = host == self.host
        return (parts.scheme == self.scheme and matches and port == self.port
                and parts.username is None and parts.password is None
                and (parts.path or "/").startswith(self.path_prefix))


@dataclass(frozen=True)
class MediaPolicy:
    sources: tuple[Origin, ...]          # where a webhook's media URL may point (credentials go here)
    redirects: tuple[Origin, ...] = ()   # where those may redirect to (fetched without credentials)
    max_bytes: int = 16 * 1024 * 1024
    connect_seconds: float = 5.0
    read_seconds: float = 20.0           # per socket read
    total_seconds: float = 30.0          # the whole download, every hop included
    max_redirects: int = 3

    def with_source(self, origin: Origin) -> "MediaPolicy":
        return MediaPolicy(self.sources + (origin,), self.redirects + (origin,), self.max_bytes,
                           self.connect_seconds, self.read_seconds, self.total_seconds, self.max_redirects)


def _admitted(url: str, origins: tuple[Origin, ...]) -> Origin:
    parts = urlsplit(url)
    for origin in origins:
        if origin.admits(parts):
            return origin
    raise MediaRefused(f"media host not allowed: {parts.scheme}://{parts.hostname}", "media_host_not_allowed")


def fetch(url: str, policy: MediaPolicy, auth: tuple[str, str] | None = None) -> tuple[bytes, str]:
    """(bytes, content type) of the media at `url`, or MediaRefused / a requests error."""
    deadline = time.monotonic() + policy.total_seconds
    allowed = policy.sources
    for _ in range(policy.max_redirects + 1):
        origin = _admitted(url, allowed)
        with requests.get(url, auth=auth if origin in policy.sources else None, stream=True,
                          allow_redirects=False, timeout=(policy.connect_seconds, policy.read_seconds)) as resp:
            if resp.status_code in _REDIRECTS and resp.headers.get("Location"):
                url = urljoin(url, resp.headers["Location"])
                allowed = policy.sources + policy.redirects
                continue
            resp.raise_for_status()
            return _body(resp, policy, deadline), resp.headers.get("Content-Type", "application/octet-stream")
    raise MediaRefused("too many redirects", "media_redirect_loop")


def _body(resp: requests.Response, policy: MediaPolicy, deadline: float) -> bytes:
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise MediaRefused(f"media exceeds {policy.max_bytes} bytes", "media_too_large")
    chunks, size = [], 0
    for chunk in resp.iter_content(64 * 1024):
        size += len(chunk)
        if size > policy.max_bytes:
            raise MediaRefused(f"media exceeds {policy.max_bytes} bytes", "media_too_large")
        if time.monotonic() > deadline:
            raise MediaRefused(f"media download took over {policy.total_seconds:.0f} s", "media_timeout")
        chunks.append(chunk)
    return b"".join(chunks)
