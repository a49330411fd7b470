"""Twilio message status callbacks: verify, then move the message's status forward only.

The callback URL the sender gave Twilio names the workspace, conversation, message and channel
(`?ws=&conv=&msg=&ch=`); Twilio signs the full URL, so those parameters are trusted once the
signature checks out with that channel's token. Unknown messages change nothing and get 200,
so Twilio does not retry them forever.
"""
from __future__ import annotations

from utalk import errors
from utalk.channels import routes
from utalk.channels.twilio_whatsapp import signed
from utalk.services import messaging

KNOWN = {"queued", "sending", "sent", "delivered", "read", "failed", "undelivered"}


def receive(args, form, url: str, signature: str | None) -> bool:
    ws, conv, msg, ch = (args.get(k) for k in ("ws", "conv", "msg", "ch"))
    if not all((ws, conv, msg, ch)) or not form.get("MessageSid"):
        # Without our parameters there is no channel to verify against: refuse, store nothing.
        raise errors.Forbidden("Unverifiable status callback", code="invalid_signature")
    # The channel and its opened credentials, cached per instance like inbound routes.
    entry = routes.by_channel(ws, ch)
    if entry is None or routes.verified(entry, signed(url, form, signature), may_reload=bool(signature)) is None:
        raise errors.Forbidden("Invalid Twilio signature", code="invalid_signature")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if status not in KNOWN:
        return False  # e.g. "accepted", "scheduled": nothing to record
    try:
        return messaging.apply_status(ws, conv, msg, status, provider_id=form.get("MessageSid"),
                                      error_code=form.get("ErrorCode") or None,
                                      error_message=form.get("ErrorMessage") or None)
    except errors.NotFound:  # malformed ids in a validly signed URL: nothing to update
        return False
