"""Ending a web chat visitor's refresh path, over HTTP through the gateway: refresh tokens rotate
and a reused one revokes its family (as agents'), the visitor signs out, an admin blocks the
visitor, the chat's identity secret is rotated; and visitors' and agents' refresh tokens never
stand for each other."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

from bot_support import new_agents
from helpers import login
from test_refresh_grace import _age_use
from webchat_support import IDENTITY_SECRET, Visitor, identifier_hash, open_session, web_channel

from utalk.repositories.refresh_tokens import REUSE_GRACE_SECONDS


def _resume(api, chat, token: str):
    return open_session(api, chat, {"refreshToken": token})


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_visitor_s_family(api):
    chat = web_channel(api)
    visitor = Visitor.open(api, chat)
    first = visitor.session["refreshToken"]
    r = _resume(api, chat, first)
    assert r.status_code == 201, r.text
    second = r.json()["refreshToken"]
    assert second != first and r.json()["visitorId"] == visitor.session["visitorId"]
    again = _resume(api, chat, first)     # a second tab within the grace: the same successor
    assert again.status_code == 201 and again.json()["refreshToken"] == second

    _age_use(first, REUSE_GRACE_SECONDS + 1)
    reuse = _resume(api, chat, first)
    assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "refresh_reuse"
    after = _resume(api, chat, second)
    assert after.status_code == 401 and after.json()["error"]["code"] == "refresh_revoked"
    other = Visitor.open(api, chat)       # another visitor's family is its own
    assert _resume(api, chat, other.session["refreshToken"]).status_code == 201


def test_a_visitor_who_signs_out_cannot_refresh(api):
    chat = web_channel(api)
    visitor = Visitor.open(api, chat)
    token = _resume(api, chat, visitor.session["refreshToken"]).json()["refreshToken"]
    r = api.post(chat.path("signout"), headers={"Origin": visitor.origin}, json={"refreshToken": token})
    assert r.status_code == 204, r.text
    for old in (token, visitor.session["refreshToken"]):
        r = _resume(api, chat, old)
        assert r.status_code == 401 and r.json()["error"]["code"] in ("refresh_revoked", "refresh_reuse"), r.text
    r = api.post(chat.path("signout"), headers={"Origin": visitor.origin}, json={"refreshToken": "garbage"})
    assert r.status_code == 401
    other = web_channel(api)              # a token signs out only on its own chat
    fresh = Visitor.open(api, chat)
    r = api.post(other.path("signout"), json={"refreshToken": fresh.session["refreshToken"]})
    assert r.status_code == 401
    assert _resume(api, chat, fresh.session["refreshToken"]).status_code == 201


def test_an_admin_blocks_a_visitor_whose_refresh_and_identified_sessions_then_fail(api):
    chat = web_channel(api, identity=True)
    who = {"identifier": "cliente-7", "identifierHash": identifier_hash("cliente-7")}
    visitor = Visitor.open(api, chat, who)
    assert visitor.say("hola").status_code == 201
    bystander = Visitor.open(api, chat)
    assert bystander.say("hola").status_code == 201

    (agent_api, _), = new_agents(api, chat, 1)
    path = f"/api/v1/conversations/{visitor.conversation_id}/block-visitor"
    assert agent_api.post(path).status_code == 403                       # admins only
    r = chat.api.post(path)
    assert r.status_code == 200, r.text
    assert r.json() == {"conversationId": visitor.conversation_id, "blocked": True, "revokedSessions": 1}
    r = _resume(api, chat, visitor.session["refreshToken"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_revoked"
    r = open_session(api, chat, who)                                      # nor a new identified session
    assert r.status_code == 403 and r.json()["error"]["code"] == "visitor_blocked"
    assert _resume(api, chat, bystander.session["refreshToken"]).status_code == 201

    assert chat.api.post(path).status_code == 200                         # again: nothing more to revoke
    stranger = web_channel(api)                                           # another workspace's admin
    r = stranger.api.post(path)
    assert r.status_code == 404, r.text
    r = chat.api.post("/api/v1/conversations/conv_nope/block-visitor")
    assert r.status_code == 404


def test_a_blocked_visitor_s_access_token_stops_on_the_visitor_routes(api):
    """The block names the visitor in its chat's route, which the visitor routes read anyway: an
    instance that loads the route after the block (here the function in this process; the gateway
    holds its copy up to UTALK_ROUTE_CACHE_SECONDS) refuses the token still within its 15 minutes."""
    from functions_framework import create_app

    from utalk.repositories.channels import ChannelRepository, read_route, route_key

    chat = web_channel(api)
    visitor, bystander = Visitor.open(api, chat), Visitor.open(api, chat)
    assert visitor.say("hola").status_code == 201
    assert chat.api.post(f"/api/v1/conversations/{visitor.conversation_id}/block-visitor").status_code == 200
    key = chat.channel["channelKey"]
    route = read_route(route_key("web", key))
    assert set(route["blockedVisitors"]) == {visitor.session["visitorId"]}
    assert route["blockedVisitors"][visitor.session["visitorId"]] > time.time() + 15 * 60

    send = create_app("webchat_send", str(Path(__file__).resolve().parents[2] / "functions" / "main.py")).test_client()

    def says(who: Visitor):
        return send.post(chat.path("messages"), headers={**who.headers(), "X-Forwarded-For": api.ip},
                         json={"messageId": str(uuid.uuid4()), "text": "hola"})
    r = says(visitor)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "visitor_blocked", r.get_data(as_text=True)
    assert says(bystander).status_code == 201

    # Entries outlive the tokens issued before them, no more: each block drops the ones past.
    channels = ChannelRepository(chat.ws)
    channel = channels.get(chat.channel["id"])
    now = time.time()
    assert channels.deny_on_route(channel, "vexpired", now - 1, now - 2)
    assert channels.deny_on_route(channel, "vlater", now + 60, now)
    assert set(read_route(route_key("web", key))["blockedVisitors"]) == {visitor.session["visitorId"], "vlater"}
    assert not ChannelRepository("ws_other").deny_on_route(channel, "vnope", now + 60, now)   # not its route


def test_rotating_the_identity_secret_ends_identified_visitors_refresh_only(api):
    chat = web_channel(api, identity=True)
    who = {"identifier": "cliente-9", "identifierHash": identifier_hash("cliente-9")}
    identified, anonymous = Visitor.open(api, chat, who), Visitor.open(api, chat)
    new_secret = "rotated-identity-secret-0123456789"
    r = chat.api.put(f"/api/v1/channels/{chat.channel['id']}/credentials", json={"identitySecret": new_secret})
    assert r.status_code == 200, r.text
    r = _resume(api, chat, identified.session["refreshToken"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_revoked"
    assert _resume(api, chat, anonymous.session["refreshToken"]).status_code == 201
    assert IDENTITY_SECRET != new_secret


def test_visitor_and_agent_refresh_tokens_never_stand_for_each_other(api):
    chat = web_channel(api)
    visitor = Visitor.open(api, chat)
    r = api.post("/api/v1/auth/refresh", json={"refreshToken": visitor.session["refreshToken"]})
    assert r.status_code == 401
    r = api.post("/api/v1/auth/logout", json={"refreshToken": visitor.session["refreshToken"]})
    assert r.status_code == 401
    assert _resume(api, chat, visitor.session["refreshToken"]).status_code == 201   # untouched by either

    (_, agent_id), = new_agents(api, chat, 1)
    agent = login(api, _email_of(chat, agent_id))
    r = _resume(api, chat, agent["refreshToken"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = api.post(chat.path("signout"), json={"refreshToken": agent["refreshToken"]})
    assert r.status_code == 401
    assert api.post("/api/v1/auth/refresh", json={"refreshToken": agent["refreshToken"]}).status_code == 200


def _email_of(chat, user_id: str) -> str:
    return chat.api.get(f"/api/v1/users/{user_id}").json()["email"]
