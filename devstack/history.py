"""Plays a support day against the running local stack, so the report page has something to show:
customers on WhatsApp and Messenger through the real signed webhooks, the offline bot answering
FAQ questions, others asking for a person (escalations offered to demo agents, some rejected,
accepted, answered and closed through the API), some closed after the bot alone, one reopened.

    .venv/bin/python -m devstack.history [--customers 24] [--days 7]

Needs `scripts/dev` running (the demo workspace seeded). The customers are spread over the last
`--days` days, oldest first, in working hours of the workspace's time zone: before each one the
stack's clock is moved to its moment (utalk/clock.py, the file every process of the stack reads),
so what the stack stores (messages, escalations, closes) and the analytics it counts land on those
days; afterwards the clock is back on real time.
"""
from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from devstack.seed import seed
from devstack.simulate import send, send_messenger
from devstack.stack import Stack

QUESTIONS = ["¿Cuál es su horario?", "¿A qué hora abren mañana?", "¿A qué hora cierran?"]
HANDOVERS = ["Quiero hablar con un asesor", "Necesito una persona, por favor", "¿Me pasa con un agente?"]


class Api:
    def __init__(self, base: str, email: str, password: str):
        self.base = base
        r = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30)
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}

    def call(self, method: str, path: str, **kw):
        return requests.request(method, f"{self.base}/api/v1{path}", headers=self.headers, timeout=30, **kw)


def agents(admin: Api, n: int) -> list[tuple[Api, str]]:
    """The demo agents (made once through the users API, then reused), all online."""
    out = []
    for i in range(n):
        email, password = f"agente{i + 1}@demo.utalk.app", "utalk-demo-agent-2026"
        r = admin.call("POST", "/users", json={"email": email, "name": f"Agente {i + 1}", "password": password,
                                                "role": "agent", "agent": {"status": "online", "maxConversations": 5}})
        assert r.status_code in (201, 409), r.text
        api = Api(admin.base, email, password)
        assert api.call("PATCH", "/agents/me/status", json={"status": "online"}).status_code == 200
        out.append((api, api.call("GET", "/auth/me").json()["id"]))
    return out


def wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    return None


def moments(tz: str, customers: int, days: int, today: datetime | None = None) -> list[datetime]:
    """When each customer writes: `days` days back to today, oldest first, 09:00-17:59 local."""
    zone = ZoneInfo(tz)
    today = (today or datetime.now(zone)).astimezone(zone)
    rng = random.Random(days * 1000 + customers)
    out = []
    for i in range(customers):
        back = days - 1 - (i * days // max(1, customers))
        day = (today - timedelta(days=back)).date()
        out.append(datetime(day.year, day.month, day.day, 9 + rng.randrange(9), rng.randrange(60), tzinfo=zone))
    latest = today - timedelta(minutes=5)      # today's never after now
    return sorted(min(m, latest) if m.date() == today.date() else m for m in out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=24)
    ap.add_argument("--days", type=int, default=7, help="spread the customers over this many days, to today")
    args = ap.parse_args()
    stack = Stack()
    stack.apply_env()
    base = f"http://127.0.0.1:{stack.ports.gateway}"
    creds = seed()            # idempotent: the demo workspace as scripts/dev made it
    play(base, creds, args.customers, args.days)
    print(f"done: open http://127.0.0.1:{stack.ports.gateway}/report/ and sign in as {creds['email']}")
    return 0


def play(base: str, creds: dict, customers: int, days: int) -> None:
    """The history, against the stack at `base` whose clock file this process names."""
    from utalk import clock

    admin = Api(base, creds["email"], creds["password"])
    tz = admin.call("GET", "/workspace/settings").json().get("timeZone") or "UTC"
    by_id = dict((agent_id, api) for api, agent_id in agents(admin, 3))
    rng = random.Random(19)
    try:
        for i, moment in enumerate(moments(tz, customers, days)):
            clock.set(moment)
            _customer(admin, by_id, rng, i, customers)
    finally:
        clock.set(None)


def _customer(admin: Api, by_id: dict, rng: random.Random, i: int, customers: int) -> None:
    """Customer `i`: a FAQ question the bot answers, or a handover an agent takes and closes."""
    base = admin.base
    messenger = i % 3 == 2
    customer = f"60000000{uuid.uuid4().int % 10 ** 8:08d}" if messenger else f"+52155{uuid.uuid4().int % 10 ** 8:08d}"
    handover = i % 2 == 1
    text = rng.choice(HANDOVERS if handover else QUESTIONS)
    r = send_messenger(base, text, customer) if messenger else send(base, text, customer)
    assert r.ok, r.text
    address = f"fb:{customer}" if messenger else customer       # Messenger addresses carry their channel
    conv = wait(lambda: next((c for c in admin.call("GET", "/conversations", params={"limit": 100}).json()["items"]
                              if address in (c.get("participants") or [])), None))
    if conv is None:
        return
    if handover:
        holder = _holder(admin, conv["id"])
        if holder is None:
            return
        # The holder's own assign call returns the escalation offered to them (no change made).
        esc_id = by_id[holder].call("POST", f"/conversations/{conv['id']}/assign",
                                    json={"agentId": holder}).json()["id"]
        if i % 4 == 1:                 # some offers are rejected first
            by_id[holder].call("POST", f"/escalations/{esc_id}/reject", json={"reason": "ocupado"})
            holder = _holder(admin, conv["id"], not_=holder)
            if holder is None:
                return
        agent = by_id[holder]
        agent.call("POST", f"/escalations/{esc_id}/accept")
        agent.call("POST", "/messages", json={"conversationId": conv["id"], "messageId": str(uuid.uuid4()),
                                              "text": "Hola, soy tu agente. ¿En qué te ayudo?"})
        time.sleep(rng.uniform(0.5, 2))
        agent.call("POST", f"/conversations/{conv['id']}/status", json={"status": "closed"})
    else:
        wait(lambda: admin.call("GET", f"/conversations/{conv['id']}").json().get("messageCount", 0) >= 2)
        if i % 4 != 2:
            admin.call("POST", f"/conversations/{conv['id']}/status", json={"status": "closed"})
        if i == 4:                      # one comes back
            admin.call("POST", f"/conversations/{conv['id']}/status", json={"status": "open"})
            admin.call("POST", f"/conversations/{conv['id']}/status", json={"status": "closed"})
    print(f"customer {i + 1}/{customers}: {'messenger' if messenger else 'whatsapp'}, "
          f"{'escalated' if handover else 'bot'}", flush=True)


def _holder(admin: Api, conv_id: str, not_: str | None = None) -> str | None:
    """The agent the conversation is offered to (another than `not_`), once assignment ran."""
    return wait(lambda: (lambda a: a if a not in (None, not_) else None)(
        admin.call("GET", f"/conversations/{conv_id}").json().get("assignedAgent")))


if __name__ == "__main__":
    raise SystemExit(main())
