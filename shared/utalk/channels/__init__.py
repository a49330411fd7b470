"""The channel registry: which adapter serves a channel (its type and provider).

An adapter owns everything provider-specific: verifying and parsing webhooks into normalised items
(`base.py`), sending, downloading inbound media, proving an address, the customer's profile.
Services ask here for the adapter of a route or channel and never import a provider module; each
adapter module is imported only when a channel of its kind is served (cold start). What each
channel type allows outbound (window, text length) is `rules.py`.
"""
from __future__ import annotations

import importlib

# (channel type, provider) -> "module:class" under utalk.channels. A new channel is one more row.
ADAPTERS = {
    ("whatsapp", "twilio"): "twilio_whatsapp:TwilioWhatsApp",
    ("whatsapp", "sandbox"): "sandbox:Sandbox",
    ("facebook", "messenger"): "messenger:Messenger",
    ("facebook", "sandbox"): "messenger_sandbox:MessengerSandbox",
    ("web", "web"): "web:Web",
}


def adapter_class(channel_type: str, provider: str):
    try:
        module, name = ADAPTERS[(channel_type, provider)].split(":")
    except KeyError:
        raise ValueError(f"no adapter for {channel_type} channels on provider {provider}") from None
    return getattr(importlib.import_module(f"utalk.channels.{module}"), name)


def adapter_for(channel: dict, credentials):
    """The adapter a stored channel (or its route) uses, with that channel's opened credentials."""
    return adapter_class(channel.get("type") or "whatsapp", channel.get("provider") or "sandbox")(channel, credentials)
