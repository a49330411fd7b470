"""The offline stand-in for the Messenger Platform (the local default for Facebook channels).

It records every outbound message under `workspaces/{ws}/sandboxOutbox/{mid}` and then, like
Meta, posts signed webhooks to `/webhooks/messenger` from a background thread: the echo of the
send (with the channel's own app id, so the webhook skips it), then a delivery and a read
watermark, so the local stack works end to end without the internet.
"""
from __future__ import annotations

import json
import threading
import time
import uuid

import requests
from google.cloud import firestore

from utalk import logs
from utalk.channels import credentials
from utalk.channels.base import Outbound, PermanentSendError, SendResult
from utalk.channels.messenger import MAX_TEXT_OUT, Messenger, signature_of
from utalk.config import settings
from utalk.repositories.base import WorkspaceScope

log = logs.get("sandbox")
WEBHOOK_PATH = "/webhooks/messenger"
CALLBACK_GAP_SECONDS = 0.05


class MessengerSandbox(Messenger):
    """Same credentials, parsing and media download as Messenger; sending stays on this machine.
    Exists only in local/test (channel creation refuses it elsewhere, and its credentials open
    nowhere else)."""

    def __init__(self, channel: dict, creds: credentials.Credentials):
        super().__init__(channel, creds)
        self.app_id = channel.get("appId") or credentials.SANDBOX_APP_ID

    def prove_address(self, page_id: str) -> None:
        """Sandbox Pages are whatever a local developer or test says they are."""

    def customer_profile(self, customer: str) -> dict | None:
        return None

    def send(self, out: Outbound) -> SendResult:
        if out.text and len(out.text) > MAX_TEXT_OUT:
            raise PermanentSendError(f"Messenger texts are at most {MAX_TEXT_OUT} characters", "text_too_long")
        mid = "m_sandbox" + uuid.uuid4().hex
        WorkspaceScope(out.workspace_id).collection("sandboxOutbox").document(mid).set({
            "sid": mid, "to": out.to, "from": out.from_, "body": out.text, "mediaUrls": list(out.media_urls),
            "options": dict(out.options), "conversationId": out.conversation_id, "messageId": out.message_id,
            "createdAt": firestore.SERVER_TIMESTAMP})
        threading.Thread(target=self._webhooks, args=(out, mid), daemon=True).start()
        return SendResult(provider_id=mid, status="sent")

    def _webhooks(self, out: Outbound, mid: str) -> None:
        psid, url = out.to.removeprefix("fb:"), settings().public_base_url + WEBHOOK_PATH
        page = {"id": self.page_id}
        for event in ({"message": {"mid": mid, "is_echo": True, "app_id": int(self.app_id), "text": out.text}},
                      {"delivery": {"mids": [mid]}}, {"read": {}}):
            time.sleep(CALLBACK_GAP_SECONDS)
            now = int(time.time() * 1000)
            echo = "message" in event
            for report in event.values():
                if not echo:
                    report["watermark"] = now
            raw = json.dumps({"object": "page", "entry": [{"id": self.page_id, "time": now, "messaging": [{
                "sender": page if echo else {"id": psid}, "recipient": {"id": psid} if echo else page,
                "timestamp": now, **event}]}]}).encode()
            try:
                requests.post(url, data=raw, timeout=10, headers={
                    "Content-Type": "application/json", "X-Hub-Signature-256": signature_of(self.app_secret, raw)})
            except requests.RequestException as exc:   # as Meta: a lost webhook is retried, not forever
                log.warning("sandbox Messenger webhook failed: %s", exc)
