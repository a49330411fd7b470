"""The visitor API of web chats (public): sessions, sign-out, messages, history, typing, read.

Every route names its web channel by key and answers CORS only for that channel's allowed origins;
all but `sessions` take the visitor's own token (never an agent's: auth/visitor_tokens.py).
"""
import flask

from utalk import http
from utalk.models.common import Page
from utalk.models.media import Media
from utalk.models.webchat import (HistoryQuery, OpenSession, SignOut, Typing, VisitorHistory, VisitorMessage,
                                  VisitorMessageSent, VisitorRead, VisitorSession)
from utalk.services import webchat


def _origins(params: dict) -> tuple[str, ...]:
    return webchat.allowed_origins(params["channelKey"])


def _visitor(call: http.Call, counted: str | None):
    """The request's visitor and web chat, its request counted against route `counted`'s per-visitor
    limits (limits.BY_VISITOR; None: the handler counts it, as the send does)."""
    visitor, entry = webchat.authenticate(call.params["channelKey"], call.request.headers.get("Authorization", ""),
                                          call.request.headers.get("Origin"))
    if counted:
        webchat.count(visitor, counted)
    return visitor, entry


def visitor_route(entry):
    """Mark a route as taking the visitor's token (the contract's `visitorAuth`, not `bearerAuth`):
    the HTTP layer does not authenticate it, `_visitor` does."""
    entry.security = "visitorAuth"
    return entry


# Beyond the HTTP layer: 401 (a visitor token, refresh token or identity hash refused), 403 (an
# Origin the channel does not allow, a blocked visitor), 404 (no such web chat: the path has one).
VISITOR = (401, 403)


@http.endpoint("webchat_session", auth=False, body=OpenSession, cors=_origins, response={201: VisitorSession},
               raises=VISITOR + (409,))    # 409: a merge that kept meeting concurrent changes
def open_session(call: http.Call):
    return webchat.open_session(call.params["channelKey"], call.body, http.client_ip(call.request),
                                call.request.headers.get("Origin"), call.request.headers.get("Authorization", "")), 201


@http.endpoint("webchat_signout", auth=False, body=SignOut, cors=_origins, response={204: None}, raises=VISITOR)
def sign_out(call: http.Call):
    webchat.sign_out(call.params["channelKey"], call.body.refreshToken, call.request.headers.get("Origin"))
    return flask.Response(status=204)


@visitor_route
@http.endpoint("webchat_send", auth=False, body=VisitorMessage, cors=_origins,
               response={200: VisitorMessageSent, 201: VisitorMessageSent}, raises=VISITOR)
def send(call: http.Call):
    visitor, entry = _visitor(call, None)
    shown, created = webchat.send(visitor, entry, call.body)
    return shown, 201 if created else 200


@visitor_route
@http.endpoint("webchat_media_upload", auth=False, request="multipart/form-data", cors=_origins,
               response={201: Page[Media]}, raises=VISITOR + (400, 404, 415, 422))
def upload(call: http.Call):
    visitor, _ = _visitor(call, "webchat_media_upload")
    items = webchat.upload(visitor, call.request)
    return {"items": [m.model_dump(mode="json") for m in items]}, 201


@visitor_route
@http.endpoint("webchat_media_get", auth=False, cors=_origins, response=Media, raises=VISITOR + (404,))
def media(call: http.Call):
    visitor, _ = _visitor(call, "webchat_media_get")
    return webchat.media(visitor, call.params["mediaId"])


@visitor_route
@http.endpoint("webchat_history", auth=False, query=HistoryQuery, cors=_origins, response=VisitorHistory,
               raises=VISITOR)
def history(call: http.Call):
    visitor, _ = _visitor(call, "webchat_history")
    return webchat.history(visitor, call.query)


@visitor_route
@http.endpoint("webchat_typing", auth=False, body=Typing, cors=_origins, response={204: None}, raises=VISITOR)
def typing(call: http.Call):
    visitor, _ = _visitor(call, "webchat_typing")
    webchat.typing(visitor, call.body.typing)
    return flask.Response(status=204)


@visitor_route
@http.endpoint("webchat_read", auth=False, cors=_origins, response=VisitorRead, raises=VISITOR)
def mark_read(call: http.Call):
    visitor, _ = _visitor(call, "webchat_read")
    return {"read": webchat.mark_read(visitor)}
