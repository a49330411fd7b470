"""What each channel type allows an outbound message: its reply window, text length and content.

One row per channel type (`RULES`); the messaging service asks `rules_for(conversation channel)`
before anything is queued, and stores what the rules decided (`options`, e.g. Messenger's message
tag) on the message for the sender. No provider code here: this module loads with the API.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from utalk import errors
from utalk.models.common import utcnow

DAY = timedelta(hours=24)


def _since(conversation: dict) -> tuple[datetime | None, timedelta | None]:
    last = conversation.get("lastInboundAt")
    return (last, utcnow() - last) if isinstance(last, datetime) else (None, None)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


class WhatsAppRules:
    """Free-form messages only within 24 h of the customer's last message; approved templates
    (Twilio Content API) at any time."""
    max_text = 4096

    def check(self, conversation: dict, *, sender_type: str, text: str | None, media: bool, location: bool,
              template: bool, human_agent_tag: Callable[[], bool]) -> dict:
        last, age = _since(conversation)
        if not template and (age is None or age > DAY):
            raise errors.Conflict("The WhatsApp 24-hour window is closed; send an approved template",
                                  code="whatsapp_window_closed", details={"lastInboundAt": _iso(last)})
        return {}

    def fit(self, text: str) -> str:
        return text[:self.max_text]


class MessengerRules:
    """The Messenger Platform's policy: inside the 24 h standard window a reply goes as RESPONSE;
    after it, only a person (never the bot) may answer within 7 days, with the HUMAN_AGENT tag,
    when the workspace says its Page has that permission (`settings.messenger.humanAgentTag`).
    Texts up to 2,000 characters; one attachment or one text per message, no templates or locations."""
    max_text = 2000
    human_agent_window = timedelta(days=7)

    def check(self, conversation: dict, *, sender_type: str, text: str | None, media: bool, location: bool,
              template: bool, human_agent_tag: Callable[[], bool]) -> dict:
        if template or location:
            raise errors.ValidationFailed("Messenger sends text or media, not templates or locations",
                                          code="unsupported_content")
        if media and text:
            raise errors.ValidationFailed("A Messenger message is one text or one attachment: send two messages",
                                          code="text_with_media")
        if text and len(text) > self.max_text:
            # Refused rather than split: one message id would become several provider messages,
            # with statuses, retries and failures of their own, and the agent would not see what
            # the customer gets. The agent shortens it, or sends two.
            raise errors.ValidationFailed(f"Messenger texts are at most {self.max_text} characters",
                                          code="text_too_long", details={"maxLength": self.max_text})
        last, age = _since(conversation)
        if age is not None and age <= DAY:
            return {"messagingType": "RESPONSE"}
        if age is not None and age <= self.human_agent_window and sender_type == "agent" and human_agent_tag():
            return {"messagingType": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        raise errors.Conflict("The Messenger 24-hour window is closed" + (
            "" if sender_type != "agent" else "; a person may answer within 7 days when the workspace enables "
                                              "settings.messenger.humanAgentTag"),
                              code="window_closed", details={"lastInboundAt": _iso(last)})

    def fit(self, text: str) -> str:
        """The bot's text within the limit (it cannot be asked to shorten it)."""
        return text if len(text) <= self.max_text else text[:self.max_text - 1].rstrip() + "…"


class WebRules:
    """The widget is ours: no reply window, texts up to the API's own limit, text and media (no
    templates or locations: nothing to render them)."""
    max_text = 4096

    def check(self, conversation: dict, *, sender_type: str, text: str | None, media: bool, location: bool,
              template: bool, human_agent_tag: Callable[[], bool]) -> dict:
        if template or location:
            raise errors.ValidationFailed("The web chat sends text or media, not templates or locations",
                                          code="unsupported_content")
        return {}

    def fit(self, text: str) -> str:
        return text[:self.max_text]


RULES = {"whatsapp": WhatsAppRules(), "facebook": MessengerRules(), "web": WebRules()}


def rules_for(channel_type: str | None):
    try:
        return RULES[channel_type or "whatsapp"]
    except KeyError:
        raise ValueError(f"no rules for {channel_type} conversations") from None
