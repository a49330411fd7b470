"""Helpers for bot and escalation tests: workspace settings, agents, customer messages through the
real webhook, and Firestore reads of escalations and bot runs (the fake OpenAI is in conftest)."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import helpers
from messaging_support import INBOUND, conv_id, conversation_doc, db, inbound_form, messages, post_signed, wait_for




def ws_doc(ws_id: str):
    return db().collection("workspaces").document(ws_id)


def set_settings(ws_id: str, **fields) -> None:
    """set_settings(ws, **{"bot.provider": "openai"}) updates settings.<path> fields."""
    ws_doc(ws_id).update({f"settings.{k}": v for k, v in fields.items()})


def new_customer() -> str:
    return "+52155" + str(uuid.uuid4().int)[:8]


def customer_says(api, ws, text: str, customer: str | None = None, sid: str | None = None) -> tuple[str, str]:
    """Post a signed inbound webhook; returns (conversation id, inbound message id)."""
    customer = customer or new_customer()
    sid = sid or "SM" + uuid.uuid4().hex
    r = post_signed(api, INBOUND, inbound_form(ws.number, customer, text, sid=sid))
    assert r.status_code == 200, r.text
    conv = conv_id(customer, ws.number)
    msg = wait_for(lambda: next((m for m in messages(ws.id, conv) if m.get("providerId") == sid), None))
    return conv, msg["id"]


def outbound(ws_id: str, conv: str, sender_type: str = "bot") -> list[dict]:
    return [m for m in messages(ws_id, conv) if m["direction"] == "outbound" and m["senderType"] == sender_type]


def conversation(ws_id: str, conv: str) -> dict:
    return conversation_doc(ws_id, conv).get().to_dict()


def escalations(ws_id: str) -> list[dict]:
    return [d.to_dict() for d in ws_doc(ws_id).collection("escalations").stream()]


def bot_runs(ws_id: str) -> list[dict]:
    return [d.to_dict() for d in ws_doc(ws_id).collection("botRuns").stream()]


def agent_doc(ws_id: str, user_id: str) -> dict:
    return ws_doc(ws_id).collection("agents").document(user_id).get().to_dict()


def new_agents(api, ws, n: int, *, status: str = "online", capacity: int = 10, skills=()) -> list[tuple]:
    """n agents made through the users API; returns [(Api with the agent's token, user id)]."""
    def make(_):
        email = f"agent-{uuid.uuid4().hex[:10]}@example.com"
        r = ws.api.post("/api/v1/users", json={"email": email, "name": "Agente", "password": helpers.PASSWORD,
                                               "role": "agent", "agent": {"status": status,
                                                                          "maxConversations": capacity,
                                                                          "skills": list(skills)}})
        assert r.status_code == 201, r.text
        return api.with_token(helpers.login(api, email)["token"]), r.json()["id"]
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(make, range(n)))


def quiet_workspace(ws_id: str) -> None:
    """No bot and no unanswered timeout: for tests that escalate by hand."""
    set_settings(ws_id, **{"bot.enabled": False, "escalation.timeoutHours": 0})
