"""A conversation's lifecycle: a customer reopening a closed conversation (through the webhook, the
`message-received` push and the bot's Cloud Tasks), a conversation left without its initial state
by a crash repaired by the retry, and the status route that no longer bypasses escalation."""
from __future__ import annotations

import uuid

import pytest
from bot_support import (agent_doc, conversation, customer_says, escalations, new_agents, new_customer, outbound,
                         quiet_workspace)
from helpers import call_internal
from internal_support import push_body
from lifecycle_support import Events, queued
from messaging_support import (INBOUND, Instance, conv_id, conversation_doc, inbound_form, post_signed, wait_for,
                               workspace)

FAQ_ANSWER = "Nuestro horario de atención es de lunes a viernes de 9:00 a 18:00."


@pytest.fixture
def events(stack):
    reader = Events()
    yield reader
    reader.close()


def _status(api, conv: str, status: str):
    return api.post(f"/api/v1/conversations/{conv}/status", json={"status": status})


def test_a_customer_writing_to_a_closed_conversation_reopens_it_and_the_bot_answers(api, events):
    ws = workspace(api)
    conv, _ = customer_says(api, ws, "hola")
    wait_for(lambda: len(outbound(ws.id, conv)) == 1)                     # the greeting
    assert _status(ws.api, conv, "closed").json()["status"] == "closed"
    closed = conversation(ws.id, conv)
    assert closed["closedAt"] is not None

    _, msg_id = customer_says(api, ws, "¿A qué hora abren?", customer=closed["customer"]["address"])
    replies = wait_for(lambda: (r := outbound(ws.id, conv)) and len(r) == 2 and r)
    assert FAQ_ANSWER in [m["text"] for m in replies]
    c = conversation(ws.id, conv)
    assert (c["status"], c["botEnabled"], c["assignedAgent"], c["reopenedBy"]) == ("open", True, None, msg_id)
    assert queued("escalation_timeout", messageId=msg_id)                 # a new cycle: the unanswered check
    view = ws.api.get(f"/api/v1/conversations/{conv}").json()
    assert view["status"] == "open" and view["closedAt"].endswith("Z")

    # Pub/Sub delivers the message again: nothing reopens twice, nothing is answered twice.
    ids = {"workspaceId": ws.id, "conversationId": conv, "messageId": msg_id}
    r = call_internal(api, "bot_dispatch", push_body(ids))
    assert r.status_code == 200 and r.json()["ok"], r.text
    reopened = wait_for(lambda: events.updates(ws.id, "reopened"))
    assert {"conversationId": conv, "reason": "reopened", "status": "open", "assignedAgent": None,
            "botEnabled": True}.items() <= reopened[0]["payload"].items()
    assert len({e["id"] for e in events.updates(ws.id, "reopened")}) == 1   # the relay shows it once
    assert len(outbound(ws.id, conv)) == 2 and len(queued("bot_run", messageId=msg_id)) <= 1


def test_a_late_delivery_of_a_message_from_before_the_close_leaves_it_closed(api):
    ws = workspace(api)
    conv, msg_id = customer_says(api, ws, "hola")
    wait_for(lambda: outbound(ws.id, conv))
    assert _status(ws.api, conv, "closed").status_code == 200
    ids = {"workspaceId": ws.id, "conversationId": conv, "messageId": msg_id}
    r = call_internal(api, "bot_dispatch", push_body(ids))
    assert r.status_code == 200 and r.json()["ok"], r.text
    c = conversation(ws.id, conv)
    assert c["status"] == "closed" and "reopenedBy" not in c and len(outbound(ws.id, conv)) == 1


def test_with_the_workspace_bot_off_a_reopened_conversation_waits_for_people(api):
    ws = workspace(api, bot=False)
    conv, _ = customer_says(api, ws, "hola")
    assert _status(ws.api, conv, "closed").status_code == 200
    _, msg_id = customer_says(api, ws, "¿siguen ahí?", customer=conversation(ws.id, conv)["customer"]["address"])
    c = wait_for(lambda: (c := conversation(ws.id, conv))["status"] == "open" and c)
    # the dispatcher schedules the timeout right after the reopen it wrote: wait for it, don't race it
    assert c["botEnabled"] is False and wait_for(lambda: queued("escalation_timeout", messageId=msg_id))
    assert outbound(ws.id, conv) == []


def test_a_first_message_whose_initial_state_write_failed_is_repaired_by_the_webhook_retry(api, events,
                                                                                          monkeypatch):
    """The inbound store's two commits: (1) message + conversation merge, (2) the first message's
    initial state. Firestore refuses (2) once: the webhook answers 503, Twilio retries, and the
    retry (the duplicate path) announces the message, whose dispatch writes the state."""
    from google.api_core.exceptions import ServiceUnavailable

    from utalk.services import inbound

    class FailsOnce(inbound.Batch):
        failed = False

        def commit(self, *args, **kwargs):
            if not FailsOnce.failed:
                FailsOnce.failed = True
                raise ServiceUnavailable("injected: the follow-up write is lost")
            return super().commit(*args, **kwargs)

    monkeypatch.setattr(inbound, "Batch", FailsOnce)     # only the follow-up write uses this name
    ws = workspace(api)
    customer, sid = new_customer(), "SM" + uuid.uuid4().hex
    conv, form = conv_id(customer, ws.number), inbound_form(ws.number, customer, "hola", sid=sid)
    r = Instance(api).post_signed(INBOUND, form)         # this process's instance of the webhook
    # 503 `retry_later` (http.endpoint: a Google backend unavailable), so the provider delivers it again
    assert r.status_code == 503 and FailsOnce.failed, r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] == "retry_later" and r.headers["Retry-After"] == "1"
    msg_id = inbound.message_id("twilio", sid)
    lost = conversation(ws.id, conv)
    assert "status" not in lost and lost["messageCount"] == 1
    assert ws.api.get("/api/v1/conversations", params={"status": "open"}).json()["items"] == []

    r = post_signed(api, INBOUND, form)                  # Twilio's retry, to the gateway
    assert r.status_code == 200, r.text
    c = wait_for(lambda: (c := conversation(ws.id, conv)).get("status") and c)
    stored = conversation_doc(ws.id, conv).collection("messages").document(msg_id).get().to_dict()
    assert (c["status"], c["botEnabled"], c["assignedAgent"]) == ("open", True, None)
    assert c["createdAt"] == stored["createdAt"]
    [reply] = wait_for(lambda: outbound(ws.id, conv))                              # the bot answered it
    # Nothing counted twice: the customer's message once, the bot's reply once (it can be stored
    # before the state check above, so the count is taken once both are there).
    assert conversation(ws.id, conv)["messageCount"] == 2 and reply["senderType"] == "bot"
    listed = ws.api.get("/api/v1/conversations", params={"status": "open"}).json()["items"]
    assert [x["id"] for x in listed] == [conv]
    [new] = wait_for(lambda: events.of(ws.id, "conversation:new"))
    assert new["payload"]["customer"]["address"] == customer and new["payload"]["channelId"] == ws.channel["id"]


@pytest.mark.parametrize("lost", [("id", "workspaceId", "status", "botEnabled", "assignedAgent", "analytics"),
                                  ("id", "workspaceId", "analytics")], ids=["no_ids_no_state", "no_ids"])
def test_a_conversation_document_without_its_ids_is_dispatched_and_listed_and_given_them(api, lost):
    """A conversation document can hold only what the message commits merged in (an instance that
    remembers writing its fixed fields leaves them out). The dispatcher names it by its document
    (it once raised KeyError 'id' on every redelivery), repairs the ids with the state, and the
    list shows it."""
    from google.cloud import firestore

    ws = workspace(api)
    conv, msg_id = customer_says(api, ws, "hola")
    wait_for(lambda: outbound(ws.id, conv) and conversation(ws.id, conv).get("analytics"))
    conversation_doc(ws.id, conv).update({name: firestore.DELETE_FIELD for name in lost})

    r = call_internal(api, "bot_dispatch", push_body({"workspaceId": ws.id, "conversationId": conv,
                                                      "messageId": msg_id}))
    assert r.status_code == 200 and r.json()["ok"], r.text
    c = conversation(ws.id, conv)
    assert c["status"] == "open"    # its analytics facts stay lost: the episode's opening is counted once
    assert (c.get("id"), c.get("workspaceId")) == ((conv, ws.id) if "status" in lost else (None, None))
    listed = ws.api.get("/api/v1/conversations")
    assert listed.status_code == 200 and [x["id"] for x in listed.json()["items"]] == [conv], listed.text
    assert ws.api.get(f"/api/v1/conversations/{conv}").json()["id"] == conv


def test_the_status_route_refuses_escalated_and_leaving_escalated_ends_the_escalation(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    (agent, agent_id), (colleague, _) = new_agents(api, ws, 2, capacity=1)

    r = _status(agent, conv, "escalated")
    assert r.status_code == 409 and r.json()["error"]["code"] == "use_escalate", r.text
    assert r.json()["error"]["details"] == {"endpoint": f"/api/v1/conversations/{conv}/escalate"}
    assert escalations(ws.id) == [] and conversation(ws.id, conv)["status"] == "open"

    def escalate_to_first():
        """Through the escalation flow, offered to `agent` (the colleague set busy meanwhile)."""
        assert ws.api.post(f"/api/v1/conversations/{conv}/escalate", json={}).status_code == 201
        return wait_for(lambda: next((e for e in escalations(ws.id) if e["status"] == "assigned"), None))

    colleague.patch("/api/v1/agents/me/status", json={"status": "busy"})
    esc = escalate_to_first()
    assert esc["toAgentId"] == agent_id
    assert agent.post(f"/api/v1/escalations/{esc['id']}/accept").status_code == 200
    # Only the holder (or an admin) leaves it: for anyone else it is 403 and nothing changes.
    colleague.patch("/api/v1/agents/me/status", json={"status": "online"})
    r = _status(colleague, conv, "open")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_conversation"
    r = _status(agent, conv, "open")
    assert r.status_code == 200 and r.json()["status"] == "open", r.text
    c = conversation(ws.id, conv)
    assert (c["status"], c["botEnabled"], c["assignedAgent"], c["escalationId"]) == ("open", True, None, None)
    [done] = escalations(ws.id)
    assert done["status"] == "completed" and done["completion"] == "returned_to_bot"
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 0

    colleague.patch("/api/v1/agents/me/status", json={"status": "busy"})
    esc = escalate_to_first()
    r = _status(agent, conv, "pending")       # offered, not accepted yet: it ends all the same
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    c = conversation(ws.id, conv)
    assert (c["status"], c["botEnabled"], c["assignedAgent"]) == ("pending", False, None)
    assert next(e for e in escalations(ws.id) if e["id"] == esc["id"])["completion"] == "pending"
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 0

    esc = escalate_to_first()                 # and closing an accepted one ends it, the slot freed
    assert agent.post(f"/api/v1/escalations/{esc['id']}/accept").status_code == 200
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 1
    r = _status(agent, conv, "closed")
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    c = conversation(ws.id, conv)
    assert (c["status"], c["assignedAgent"], c["escalationId"]) == ("closed", None, None)
    assert next(e for e in escalations(ws.id) if e["id"] == esc["id"])["completion"] == "closed"
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 0
