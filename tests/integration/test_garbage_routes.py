"""Garbage on every public HTTP route of the manifest: never a 5xx, always the error envelope.

Parametrized over `manifest.FUNCTIONS`, so a new route is walked without touching this file. Each
route is called as an admin, as an agent (fresh users per route, as many as its own per-user limit
needs, so no limit masks a route's answer) and unauthenticated, with JSON nested 10,000 levels, wrong shapes for
each field of the route's body and query models, bad cursors, repeated and huge query values, odd
path params, wrong content types, non-UTF-8 and oversize bodies. The provider webhooks get garbage
forms, unsigned and validly signed. Internal functions (`public=False`, under `/_fn/`) are not here:
their callers are authenticated by OIDC, not by this layer.
"""
from __future__ import annotations

import base64
import importlib
import json
import random
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from media_support import PNG, upload
from messaging_support import INBOUND, conv_id, inbound_form, messages, post_signed, sign, wait_for, workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))

from utalk import manifest  # noqa: E402

ROUTES = [fn for fn in manifest.FUNCTIONS if fn.path and fn.public]
DEEP = 10_000


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_CURSORS = ["W10", "%%%", "", "x" * 190, _cursor({}), _cursor([]), _cursor([1]), _cursor([None]),
               _cursor([[]]), _cursor([{"a": 1}]), _cursor(["a", "b", "c"]), _cursor([1, 2]),
               _cursor(["not-a-date", "x"]), _cursor(["2024-01-01T00:00:00+00:00", 5]),
               _cursor(["2024-01-01T00:00:00+00:00", "a/b"]), _cursor(["__name__"]), _cursor(["a/b"]),
               _cursor(["\u0000"]), _cursor("str"), base64.urlsafe_b64encode(b"\xff\xfe[").decode()]
ODD_IDS = ["%00", "%ff", "..", ".", "__x__", "a" * 1500, "%E2%80%AE", "x%20y", "%F0%9F%98%80", "%C0%AF",
           "%0A", "a%5Cb", "%22%27%3C", "%25"]


def _models(fn):
    """The body and query models the route's endpoint declares (http.endpoint keeps them)."""
    module, attr = fn.handler.split(":")
    entry = getattr(importlib.import_module(module), attr)
    return entry.body_model, entry.query_model


RAW_DEEP = "[" * DEEP + "]" * DEEP  # goes into a body as JSON text, not as a string


def _wrong_values():
    return [None, [], {}, 1, -1, 10 ** 30, 1.5, True, "", "x" * 100_000, "\ud800", ["a"] * 500,
            {"a": {"b": {"c": [1, {"d": None}]}}}, json.loads("[" * 900 + "]" * 900), RAW_DEEP]


def _json_bodies(body_model) -> list[tuple[bytes, str]]:
    ct = "application/json"
    bodies = [
        (b"[" * DEEP, ct), (b"[" * DEEP + b"]" * DEEP, ct), (b'{"a":' * DEEP + b"1" + b"}" * DEEP, ct),
        (b"{" * DEEP, ct), (b"", ct), (b"null", ct), (b"[]", ct), (b'"s"', ct), (b"1e999", ct),
        (b"NaN", ct), (b'{"a": NaN}', ct), (b"{not json", ct), (b"\xff\xfe\x00{", ct),
        (b'{"email": "\xff\xfe"}', ct), ('{"x": "\u00e9"}'.encode("latin-1"), ct),
        ('{"email":"a@b.co"}'.encode("utf-16"), ct), (b'{"\\ud800": 1}', ct), (b'{"a":1,"a":2}', ct),
        (b"{}", "text/plain"), (b"{}", "application/x-www-form-urlencoded"), (b"a=1&a=2", "multipart/form-data"),
        (b"{}", ""), (b"<x/>", "application/xml"), (b"{}", "application/json; charset=utf-7"),
    ]
    fields = list(body_model.model_fields) if body_model else ["email", "password", "refreshToken", "status"]
    for value in _wrong_values():
        if value is RAW_DEEP:
            text = "{" + ",".join(f'"{f}":{RAW_DEEP}' for f in fields) + "}"
        else:
            text = json.dumps({f: value for f in fields})
        bodies.append((text.encode(), ct))
    bodies.append((json.dumps({**{f: "x" for f in fields}, "unexpected": 1}).encode(), ct))
    return bodies


def _queries(query_model) -> list[str]:
    if query_model is None:  # the query string is ignored: a few samples say so
        return ["a=1&a=2", "limit=%ff%fe", "cursor=W10"]
    fields = list(query_model.model_fields)
    # Huge values one field at a time: past ~4 KB of request line the server in front answers itself
    # (gunicorn here, Google's front end in production) and our code never sees the request.
    qs = ["&".join(f"{f}=a&{f}=b" for f in fields), *(f"{f}={'9' * 3000}" for f in fields),
          "&".join(f"{f}=%ff%fe" for f in fields), "&".join(f"{f}=%00" for f in fields),
          "&".join(f"{f}[]=1" for f in fields), "limit=-1", "limit=1e999", "limit=0x10", "botEnabled=maybe",
          "unknown=1", "=&=&&", "%zz=%zz"]
    qs += [f"cursor={c}" for c in BAD_CURSORS]
    return qs


class Walk:
    """One identity's requests on one route, each checked as it comes back."""

    def __init__(self, api, fn, token: str | None, params: dict[str, str]):
        self.api, self.fn, self.token, self.params = api, fn, token, params
        self.failures: list[str] = []

    def path(self, **override) -> str:
        values = {**self.params, **override}
        return self.fn.path.format(**values)

    def send(self, what: str, path: str | None = None, data: bytes | None = None, content_type: str = "",
             query: str = "", method: str | None = None) -> None:
        headers = {"X-Forwarded-For": f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        url = self.api.base + (path or self.path()) + (f"?{query}" if query else "")
        try:
            r = self.api.session.request(method or self.fn.method, url, data=data, headers=headers, timeout=60)
        except Exception as exc:  # a dropped connection is a failure too
            self.failures.append(f"{what}: {type(exc).__name__}: {exc}")
            return
        problem = _problem(r)
        if problem:
            self.failures.append(f"{what} -> {problem}")


def _problem(r) -> str | None:
    if r.status_code == 429:  # each walk stays under the limits, so a refusal never hides a route's answer
        return "rate limited: the walk sent more than one caller's limit"
    if r.status_code >= 500:
        return f"{r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            assert set(err) == {"code", "message", "details"} and err["code"] and err["message"]
        except Exception:
            return f"{r.status_code} without the envelope: {r.text[:200]!r}"
    return None


@pytest.fixture(scope="module")
def world(module_api):
    """One workspace with a channel, a conversation, a message and an escalation to aim at."""
    api = module_api
    ws = workspace(api, bot=False)
    customer = "+5215500000001"
    sid = "SM" + uuid.uuid4().hex
    assert post_signed(api, INBOUND, inbound_form(ws.number, customer, "hola", sid=sid)).status_code == 200
    conversation = conv_id(customer, ws.number)
    message = wait_for(lambda: messages(ws.id, conversation))[0]["id"]
    r = ws.api.post(f"/api/v1/conversations/{conversation}/escalate", json={"reason": "garbage walk"})
    assert r.status_code in (200, 201), r.text
    escalation = r.json()["escalation"]["id"]
    r = upload(ws.api, conversation, ("walk.png", PNG, "image/png"))
    assert r.status_code == 201, r.text
    media = r.json()["items"][0]["id"]
    r = ws.api.post("/api/v1/channels", json={"type": "web", "name": "walk", "allowedOrigins": ["https://a.example"]})
    assert r.status_code == 201, r.text
    from utalk.services import flags   # a feature flag the workspace may override (operators define them)
    flags.define("walk.flag", percent=50, overridable=True, operator="walk")
    return {"api": api, "ws": ws, "params": {"conversationId": conversation, "userId": ws.admin["id"],
                                            "escalationId": escalation, "messageId": message,
                                            "channelId": ws.channel["id"], "mediaId": media,
                                            "channelKey": r.json()["channelKey"], "flagKey": "walk.flag"}}


def _identities(world, copies: int) -> dict[str, list[str | None]]:
    """`copies` fresh admins and agents of the world's workspace, with minted access tokens."""
    from utalk.auth.tokens import Principal, issue_access_token
    from utalk.models.users import CreateUser
    from utalk.services.users import create_user

    ws = world["ws"]
    admin = Principal(ws.admin["id"], "admin", ws.id, ws.admin["tenantId"], 0)
    out: dict[str, list[str | None]] = {"anonymous": [None]}
    for role in ("admin", "agent"):
        out[role] = []
        for _ in range(copies):
            user = create_user(admin, CreateUser(email=f"{role}-{uuid.uuid4().hex[:8]}@example.com",
                                                 password="garbage-walk-1", role=role))
            out[role].append(issue_access_token(user.id, role, ws.id, ws.admin["tenantId"])[0])
    return out


def _jobs(world, fn) -> list[tuple[str, dict]]:
    walk = Walk(world["api"], fn, None, world["params"])
    body_model, query_model = _models(fn)
    jobs = []
    if fn.method in ("POST", "PUT", "PATCH"):
        jobs += [(f"body {data[:40]!r} as {ct!r}", dict(data=data, content_type=ct))
                 for data, ct in _json_bodies(body_model)]
    jobs += [(f"query {q[:60]!r}", dict(query=q)) for q in _queries(query_model)]
    for name in manifest.route_regex(fn.path).groupindex:
        jobs += [(f"{name}={odd[:20]!r}", dict(path=walk.path(**{name: odd}), data=b"{}",
                                               content_type="application/json")) for odd in ODD_IDS]
    return jobs


def _walk(world, fn, tokens: list[str | None], jobs) -> list[str]:
    """The jobs shared out among `tokens` (one caller each), so no caller passes its limits."""
    walks = [Walk(world["api"], fn, token, world["params"]) for token in tokens]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: walks[i % len(walks)].send(jobs[i][0], **jobs[i][1]), range(len(jobs))))
    return [failure for walk in walks for failure in walk.failures]


@pytest.mark.parametrize("fn", [f for f in ROUTES if not f.path.startswith("/webhooks/")], ids=lambda f: f.name)
def test_every_api_route_answers_garbage_with_a_4xx_envelope(world, fn):
    from utalk import limits

    jobs = _jobs(world, fn)
    # A route's own per-user limit may be below its walk (the analytics reports allow 30 a minute).
    allowance = min(limit.limit for limit, scope in limits.plan(fn.name, fn.path, True) if scope == "user") \
        if limits.plan(fn.name, fn.path, True) else len(jobs)
    failures = {}
    for who, tokens in _identities(world, -(-len(jobs) // allowance)).items():
        if found := _walk(world, fn, tokens, jobs):
            failures[who] = found
    assert not failures, json.dumps(failures, indent=1)[:6000]


@pytest.mark.parametrize("fn", ROUTES, ids=lambda f: f.name)
def test_oversize_bodies_are_413_everywhere(world, fn):
    from utalk.config import settings

    limit = fn.max_body_bytes or settings().max_body_bytes
    walk = Walk(world["api"], fn, None, world["params"])
    r = walk.api.session.request(fn.method, walk.api.base + walk.path(), data=b"{" + b" " * limit + b"}",
                                 headers={"Content-Type": "application/json", "X-Forwarded-For": "10.9.9.9"},
                                 timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", (r.status_code, r.text[:200])


def _garbage_forms(number: str) -> list[dict]:
    base = inbound_form(number)
    odd = ["", "a/b", "__x__", "9" * 3000, "\x00", "whatsapp:", "whatsapp:a/b", "whatsapp:__x__",
           "whatsapp:" + "9" * 1600, "whatsapp:%ff", "whatsapp:+1 (415) 523"]
    forms = [{}, {"To": "x"}, {"MessageSid": "SM1"}]
    for key in ("To", "From", "MessageSid", "AccountSid", "NumMedia", "Latitude", "MediaUrl0",
                "MediaContentType0", "MessageStatus", "ErrorCode", "ProfileName", "WaId", "Body"):
        forms += [{**base, key: value} for value in odd + ["-1", "abc", "99999999999999999999", "1e9"]]
    forms.append({**base, "NumMedia": "2", "MediaUrl0": "https://example.com/a", "MediaContentType0": "x"})
    forms.append({**base, "Latitude": "91", "Longitude": "-181"})
    forms.append({**base, "Latitude": "nan", "Longitude": "inf"})
    return forms


@pytest.mark.parametrize("fn", [f for f in ROUTES if f.path.startswith("/webhooks/")], ids=lambda f: f.name)
def test_webhooks_answer_garbage_forms_with_a_4xx_envelope_signed_or_not(world, fn):
    api, ws = world["api"], world["ws"]
    failures = []

    def check(what, r):
        if problem := _problem(r):
            failures.append(f"{what} -> {problem}")

    raw = [b"\xff\xfe\x00", b"To=%ff%fe&From=%00&MessageSid=%C0%AF", b"a=1&a=2&a=3" * 500, b"=&=&&&",
           b'{"To": "whatsapp:' + ws.number.encode() + b'"}', b"[" * DEEP]
    for data in raw:
        for ct in ("application/x-www-form-urlencoded", "application/json", "text/plain", ""):
            check(f"raw {data[:30]!r} as {ct!r}", api.session.post(api.base + fn.path, data=data, timeout=30,
                                                                    headers={"Content-Type": ct} if ct else {}))
    for form in _garbage_forms(ws.number):
        what = f"form {json.dumps(form)[:120]}"
        check("unsigned " + what, post_signed(api, fn.path, form, signature="bad"))
        check("signed " + what, post_signed(api, fn.path, form))
    check("signature over another url", api.session.post(
        api.base + fn.path + "?x=%ff", data=inbound_form(ws.number),
        headers={"X-Twilio-Signature": sign(api, fn.path, inbound_form(ws.number))}, timeout=30))
    assert not failures, "\n".join(failures[:40])
