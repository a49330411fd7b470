"""Admins' actions on web chat visitors: block a conversation's visitor (its refresh path ends)."""
from utalk import http
from utalk.models.webchat import VisitorBlocked
from utalk.services import visitor_revocation


@http.endpoint("webchat_block_visitor", role="admin", response=VisitorBlocked, raises=(404, 422))
def block(call: http.Call):
    return visitor_revocation.block(call.principal, call.params["conversationId"])
