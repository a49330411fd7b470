"""The web chat channel: visitors of the workspace's own sites, through the widget and the visitor
API (`services/webchat.py`), live over the relay.

There is no provider: a visitor's message becomes an `InboundItem` stored by the same pipeline as
every channel's (`services/inbound.store`), and a message to a visitor is delivered by the realtime
event its queueing publishes (the relay forwards it to the visitor's own room, relay/visitors.py),
so `send` calls nothing and reports the message sent.
"""
from __future__ import annotations

from utalk.channels.base import InboundItem, Outbound, PermanentSendError, SendResult

PROVIDER = "web"             # the id namespace of visitors' client message ids


def customer_address(visitor_id: str) -> str:
    return f"web:{visitor_id}"


def conversation_id(visitor_id: str, channel_key: str) -> str:
    """`conv_web:<visitor>_web:<channelKey>`: one conversation per visitor and widget, as Messenger's
    `conv_fb:<psid>_fb:<page>` is one per customer and Page."""
    return f"conv_web:{visitor_id}_web:{channel_key}"


def item(visitor_id: str, channel_key: str, message_id: str, text: str | None, profile: dict,
         media: tuple[dict, ...] = ()) -> InboundItem:
    """A visitor's message. Its client `messageId` is unique per visitor only, so the dedup key
    names the visitor too (one visitor's retry maps to one document, two visitors never collide)."""
    return InboundItem(provider=PROVIDER, provider_message_id=f"{visitor_id}:{message_id}",
                       customer=customer_address(visitor_id), business=customer_address(channel_key),
                       conversation_id=conversation_id(visitor_id, channel_key), text=text, profile=profile,
                       media=media)


class Web:
    def __init__(self, channel: dict, creds):
        self.channel = channel

    def prove_address(self, address: str) -> None:
        """Nothing to prove: the key was made by us, not claimed from a provider."""

    def send(self, out: Outbound) -> SendResult:
        if out.location or out.content_sid:
            raise PermanentSendError("The web chat carries text and media, not locations or templates",
                                     "unsupported_content")
        return SendResult(provider_id=out.message_id, status="sent")

    def customer_profile(self, customer: str) -> dict | None:
        return None

    def download(self, url: str) -> tuple[bytes, str]:
        raise PermanentSendError("Web visitors upload through the media API", "unsupported_content")
