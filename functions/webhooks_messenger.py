"""Messenger webhooks (Meta): the subscription handshake (GET) and event notifications (POST).

The adapter verifies and normalises (handshake token, X-Hub-Signature-256 over the raw body,
routing by Page); the channel-agnostic services store messages and apply delivery and read
watermarks. Meta wants a 200 within seconds and disables a webhook that keeps failing, so only
what a retry can fix answers otherwise (503), and a retry stores nothing twice.
"""
import flask

from utalk import http
from utalk.channels import messenger


@http.endpoint("messenger_verify", auth=False, response={200: "text/plain"}, raises=(400, 403))
def verify(call: http.Call):
    return flask.Response(messenger.subscription_challenge(call.request.args), status=200, mimetype="text/plain")


@http.endpoint("messenger_inbound", auth=False, request="application/json", response={200: "text/plain"},
               raises=(400, 403, 404, 422))
def inbound(call: http.Call):
    from utalk.services import inbound as inbound_service   # not the handshake's: loaded here
    from utalk.services import status_callbacks

    req = call.request
    hook = messenger.webhook(req.get_data(cache=True), req.headers.get("X-Hub-Signature-256"))
    inbound_service.receive_all(hook.items)
    for mark in hook.watermarks:
        status_callbacks.apply_watermark(mark)
    return flask.Response("EVENT_RECEIVED", status=200, mimetype="text/plain")
