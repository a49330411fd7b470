"""A local HTTP server speaking the OpenAI Chat Completions wire format, for tests.

The product's official `openai` client is pointed at it (OPENAI_BASE_URL). It checks the bearer
key, records every request (body and headers), and answers from a script: by default a confident
reply; `answer()` sets the next decision(s), `timeout()` makes the next calls hang past the
client's timeout, `fail()` makes them answer an HTTP error (5xx is retried by the client),
`garbage()` answers content that is not a valid decision. A rule can also match the customer's
text (`when(...)`), optionally answering only after `latency` seconds; `peak(text)` is the most
requests matching that rule the server held at once.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from fakes import JsonHandler, LocalServer

API_KEY = "sk-test-local-fake-openai"


def decision(reply: str = "Claro, con gusto te ayudo.", intent: str = "question", confidence: float = 0.9,
             escalate: bool = False, reason: str | None = None) -> dict:
    return {"reply": reply, "intent": intent, "confidence": confidence, "escalate": escalate, "reason": reason}


@dataclass
class FakeOpenAI(LocalServer):
    port: int
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)        # lower-cased, one per request
    received: list[float] = field(default_factory=list)      # time.time() each request arrived
    script: list[tuple] = field(default_factory=list)        # ("answer", dict) | ("timeout",) | ("fail", status)
    rules: list[tuple[str, tuple]] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)   # rule text -> seconds before answering
    in_flight: dict[str, int] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    hang_seconds: float = 10.0
    prompt_tokens: int | None = None                          # None: ~chars/4 of the prompt

    def __post_init__(self):
        self._serve(_handler(self))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.headers.clear()
            self.received.clear()
            self.script.clear()
            self.rules.clear()
            self.latency.clear()
            self.in_flight.clear()
            self.peaks.clear()
            self.hang_seconds = 10.0

    # -- commands ----------------------------------------------------------------------------
    def answer(self, times: int = 1, **kw) -> None:
        with self.lock:
            self.script.extend([("answer", decision(**kw))] * times)

    def timeout(self, times: int = 1) -> None:
        with self.lock:
            self.script.extend([("timeout",)] * times)

    def fail(self, status: int = 500, times: int = 1) -> None:
        with self.lock:
            self.script.extend([("fail", status)] * times)

    def garbage(self, times: int = 1) -> None:
        with self.lock:
            self.script.extend([("garbage",)] * times)

    def when(self, text: str, latency: float = 0.0, **kw) -> None:
        """Answer `decision(**kw)` whenever the last user message contains `text` (after `latency` s)."""
        with self.lock:
            self.rules.append((text, ("answer", decision(**kw))))
            if latency:
                self.latency[text] = latency

    def when_timeout(self, text: str) -> None:
        with self.lock:
            self.rules.append((text, ("timeout",)))

    def when_fail(self, text: str, status: int = 500) -> None:
        with self.lock:
            self.rules.append((text, ("fail", status)))

    def when_garbage(self, text: str) -> None:
        with self.lock:
            self.rules.append((text, ("garbage",)))

    def exchanges_about(self, about: str | None = None) -> list[tuple[dict, dict, float]]:
        """(body, headers, arrival time.time()) of every request; with `about`, only those whose
        context mentions that text (a bot run of an earlier test may still reach this shared
        server after the reset)."""
        with self.lock:
            return [(r, h, t) for r, h, t in zip(self.requests, self.headers, self.received)
                    if about is None or any(about in (m.get("content") or "") for m in r.get("messages") or [])]

    def calls(self, about: str | None = None) -> int:
        return len(self.exchanges_about(about))

    def requests_about(self, about: str) -> list[dict]:
        return [body for body, _, _ in self.exchanges_about(about)]

    def call_times(self, about: str) -> list[float]:
        return [at for _, _, at in self.exchanges_about(about)]

    def peak(self, text: str) -> int:
        with self.lock:
            return self.peaks.get(text, 0)

    def _next(self, body: dict, headers: dict) -> tuple[tuple, str | None]:
        """The action for this request, and the rule text it matched (None: the script)."""
        last = next((m.get("content", "") for m in reversed(body.get("messages") or []) if m.get("role") == "user"), "")
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.received.append(time.time())
            for text, action in self.rules:
                if text in last:
                    return action, text
            return (self.script.pop(0) if self.script else ("answer", decision())), None

    def _hold(self, rule: str | None, delta: int) -> float:
        """Count a request matching `rule` in (+1) or out (-1); the latency to wait when entering."""
        if rule is None:
            return 0.0
        with self.lock:
            now = self.in_flight[rule] = self.in_flight.get(rule, 0) + delta
            self.peaks[rule] = max(self.peaks.get(rule, 0), now)
            return self.latency.get(rule, 0.0)


def _handler(fake: FakeOpenAI):
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def _error(self, status: int, message: str, type_: str) -> None:
            self._json(status, {"error": {"message": message, "type": type_, "param": None, "code": None}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._error(404, f"Unknown path {self.path}", "invalid_request_error")
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                return self._error(401, "Incorrect API key provided", "invalid_request_error")
            try:
                body = json.loads(raw)
            except ValueError:
                return self._error(400, "Invalid JSON", "invalid_request_error")
            action, rule = fake._next(body, {k.lower(): v for k, v in self.headers.items()})
            wait = fake._hold(rule, +1)
            try:
                time.sleep(wait)
                return self._act(action, body)
            finally:
                fake._hold(rule, -1)

        def _act(self, action: tuple, body: dict):
            if action[0] == "timeout":
                time.sleep(fake.hang_seconds)
                try:
                    return self._error(504, "too late", "server_error")
                except OSError:          # the client gave up long ago, as intended
                    return None
            if action[0] == "fail":
                return self._error(action[1], "The server had an error", "server_error")
            content = "this is not json" if action[0] == "garbage" else json.dumps(action[1], ensure_ascii=False)
            prompt_chars = sum(len(m.get("content") or "") for m in body.get("messages") or [])
            prompt_tokens = fake.prompt_tokens if fake.prompt_tokens is not None else prompt_chars // 4 + 1
            self._json(200, {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "gpt-4o-mini"), "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": content, "refusal": None}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content) // 4 + 1,
                          "total_tokens": prompt_tokens + len(content) // 4 + 1},
            })

    return Handler
