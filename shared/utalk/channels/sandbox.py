"""The offline stand-in for Twilio (the local default when no Twilio account is configured).

It records every outbound message under `workspaces/{ws}/sandboxOutbox/{sid}` and then, like
Twilio, posts signed status callbacks (sent, delivered, read) to the message's status callback
URL from a background thread, so the local stack works end to end without the internet.
"""
from __future__ import annotations

import threading
import time
import uuid

import requests
from google.cloud import firestore
from twilio.request_validator import RequestValidator

from utalk import logs
from utalk.channels import credentials
from utalk.channels.base import Outbound, SendResult
from utalk.channels.twilio_whatsapp import TwilioWhatsApp, status_callback_url, wa
from utalk.repositories.base import WorkspaceScope

log = logs.get("sandbox")
CALLBACK_STATUSES = ("sent", "delivered", "read")
CALLBACK_GAP_SECONDS = 0.05


class Sandbox(TwilioWhatsApp):
    """Same credentials and media download as Twilio; sending stays on this machine. Exists only
    in local/test (channel creation refuses it elsewhere, and its credentials open nowhere else)."""

    def __init__(self, channel: dict, creds: credentials.Credentials):
        super().__init__(channel, creds)
        self.account_sid = channel.get("accountSid") or credentials.SANDBOX_ACCOUNT_SID

    def prove_address(self, address: str) -> None:
        """Sandbox numbers are whatever a local developer or test says they are."""

    def send(self, out: Outbound) -> SendResult:
        sid = "SM" + uuid.uuid4().hex
        WorkspaceScope(out.workspace_id).collection("sandboxOutbox").document(sid).set({
            "sid": sid, "to": wa(out.to), "from": wa(out.from_), "body": out.text,
            "mediaUrls": list(out.media_urls), "location": out.location, "contentSid": out.content_sid,
            "contentVariables": out.content_variables, "conversationId": out.conversation_id,
            "messageId": out.message_id, "createdAt": firestore.SERVER_TIMESTAMP})
        threading.Thread(target=self._callbacks, args=(out, sid), daemon=True).start()
        return SendResult(provider_id=sid, status="queued")

    def _callbacks(self, out: Outbound, sid: str) -> None:
        validator = RequestValidator(self.token)
        url = status_callback_url(out, self.channel_id)
        for status in CALLBACK_STATUSES:
            time.sleep(CALLBACK_GAP_SECONDS)
            form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid, "MessageStatus": status,
                    "SmsStatus": status, "To": wa(out.to), "From": wa(out.from_), "ApiVersion": "2010-04-01",
                    "ChannelPrefix": "whatsapp"}
            signature = validator.compute_signature(url, form)
            try:
                requests.post(url, data=form, headers={"X-Twilio-Signature": signature},
                              timeout=10)
            except requests.RequestException as exc:  # as Twilio: a lost callback is not retried forever
                log.warning("sandbox status callback failed: %s", exc)
