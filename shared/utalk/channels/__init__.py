"""Provider adapters behind one interface (`base.Adapter`): Twilio WhatsApp and the offline sandbox."""
from __future__ import annotations


def adapter_for(channel: dict):
    """The adapter a stored channel (or route) uses."""
    if channel.get("provider") == "twilio":
        from utalk.channels.twilio_whatsapp import TwilioWhatsApp
        return TwilioWhatsApp(channel)
    from utalk.channels.sandbox import Sandbox
    return Sandbox(channel)
