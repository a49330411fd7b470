"""An anonymous web chat visitor who identifies, over HTTP through the gateway: its conversation is
carried into the identified visitor's (messages once, in order, agents see one thread), a retry
changes nothing, and nobody gains a history the host site did not vouch for."""
from __future__ import annotations

from bot_support import conversation
from messaging_support import messages
from webchat_support import Visitor, identifier_hash, open_session, web_channel


def _identify(api, chat, who: dict, anonymous: Visitor):
    return open_session(api, chat, who, Authorization=f"Bearer {anonymous.session['token']}")


def _texts(visitor: Visitor) -> list[str]:
    r = visitor.history()
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["items"]]


def test_an_anonymous_visitor_who_identifies_brings_its_conversation_once_and_in_order(api):
    chat = web_channel(api, identity=True)
    who = {"identifier": "cliente-77", "identifierHash": identifier_hash("cliente-77")}
    laptop = Visitor.open(api, chat, who)
    assert laptop.say("antes, desde el portátil").status_code == 201
    phone = Visitor.open(api, chat)                    # anonymous on the phone, then logs in on the shop
    ids = []
    for text in ("uno", "dos"):
        r = phone.say(text)
        assert r.status_code == 201
        ids.append(r.json()["messageId"])

    r = _identify(api, chat, who, phone)
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["identified"] is True and session["mergedFrom"] == phone.conversation_id
    assert session["conversationId"] == laptop.conversation_id
    identified = Visitor(api, chat, session)
    assert _texts(identified) == ["dos", "uno", "antes, desde el portátil"]
    shown = identified.history().json()["items"]
    assert [m["messageId"] for m in shown[:2]] == ids[::-1]          # the visitor's own ids, still
    assert messages(chat.ws, phone.conversation_id) == []
    target = conversation(chat.ws, laptop.conversation_id)
    assert target["messageCount"] == 3
    source = conversation(chat.ws, phone.conversation_id)
    assert source["mergedInto"] == laptop.conversation_id and source["status"] == "closed"

    # Agents see one thread.
    r = chat.api.get(f"/api/v1/conversations/{laptop.conversation_id}/messages")
    assert r.status_code == 200, r.text
    assert sorted(m["text"] for m in r.json()["items"]) == ["antes, desde el portátil", "dos", "uno"]

    # A retry of the same request carries nothing twice.
    again = _identify(api, chat, who, phone)
    assert again.status_code == 201 and again.json()["mergedFrom"] == phone.conversation_id
    assert _texts(identified) == ["dos", "uno", "antes, desde el portátil"]
    assert conversation(chat.ws, laptop.conversation_id)["messageCount"] == 3
    assert identified.say("después").status_code == 201
    assert _texts(identified)[0] == "después"
    # The anonymous visitor's refresh path ended with it.
    r = open_session(api, chat, {"refreshToken": phone.session["refreshToken"]})
    assert r.status_code == 401


def test_a_first_identification_opens_the_identified_conversation_with_the_thread(api):
    chat = web_channel(api, identity=True)
    anonymous = Visitor.open(api, chat)
    assert anonymous.say("hola").status_code == 201
    who = {"identifier": "nuevo-1", "identifierHash": identifier_hash("nuevo-1")}
    r = _identify(api, chat, who, anonymous)
    assert r.status_code == 201, r.text
    target = conversation(chat.ws, r.json()["conversationId"])
    assert target["status"] == "open" and target["channel"] == "web" and target["messageCount"] == 1
    assert target["customer"]["address"] == f"web:{r.json()['visitorId']}"
    assert _texts(Visitor(api, chat, r.json())) == ["hola"]


def test_no_history_moves_without_a_verified_identity_or_between_identified_visitors(api):
    chat = web_channel(api, identity=True)
    anonymous = Visitor.open(api, chat)
    assert anonymous.say("mi secreto").status_code == 201
    forged = {"identifier": "victima", "identifierHash": identifier_hash("victima", "x" * 32)}
    r = _identify(api, chat, forged, anonymous)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_identity"
    assert [m["text"] for m in messages(chat.ws, anonymous.conversation_id)] == ["mi secreto"]

    alice = {"identifier": "alice", "identifierHash": identifier_hash("alice")}
    bob = {"identifier": "bob", "identifierHash": identifier_hash("bob")}
    alice_visitor = Visitor.open(api, chat, alice)
    assert alice_visitor.say("de alice").status_code == 201
    r = _identify(api, chat, bob, alice_visitor)       # an identified token brings nothing along
    assert r.status_code == 201 and r.json()["mergedFrom"] is None
    assert _texts(Visitor(api, chat, r.json())) == []
    assert _texts(alice_visitor) == ["de alice"]

    r = open_session(api, chat, alice, Authorization="Bearer not-a-token")
    assert r.status_code == 401
    other = web_channel(api, identity=True)            # another chat's visitor is nobody here
    stranger = Visitor.open(api, other)
    r = _identify(api, chat, alice, stranger)
    assert r.status_code == 401


def test_an_assigned_anonymous_conversation_is_closed_and_frees_its_agent_when_carried_over(api):
    from bot_support import new_agents
    from messaging_support import db

    chat = web_channel(api, identity=True)
    anonymous = Visitor.open(api, chat)
    assert anonymous.say("necesito ayuda").status_code == 201
    (_, agent_id), = new_agents(api, chat, 1)
    r = chat.api.post(f"/api/v1/conversations/{anonymous.conversation_id}/assign", json={"agentId": agent_id})
    assert r.status_code == 200, r.text

    def load() -> int:
        agent = db().collection("workspaces").document(chat.ws).collection("agents").document(agent_id).get()
        return int(agent.to_dict().get("currentConversations") or 0)
    assert load() == 1
    who = {"identifier": "cliente-88", "identifierHash": identifier_hash("cliente-88")}
    r = _identify(api, chat, who, anonymous)
    assert r.status_code == 201, r.text
    source = conversation(chat.ws, anonymous.conversation_id)
    assert source["status"] == "closed" and source.get("assignedAgent") is None
    assert load() == 0                                                # the agent's slot is given back
    target = conversation(chat.ws, r.json()["conversationId"])
    assert target["status"] == "open" and target["messageCount"] == 1 and target.get("assignedAgent") is None
