"""Provider adapters (send, download media, prove an address) for Twilio WhatsApp and the offline sandbox."""
from __future__ import annotations


def adapter_for(channel: dict, credentials):
    """The adapter a stored channel (or route) uses, with that channel's opened credentials."""
    if channel.get("provider") == "twilio":
        from utalk.channels.twilio_whatsapp import TwilioWhatsApp
        return TwilioWhatsApp(channel, credentials)
    from utalk.channels.sandbox import Sandbox
    return Sandbox(channel, credentials)
