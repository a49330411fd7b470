"""Twilio webhooks: inbound WhatsApp messages and message status callbacks.

Both answer quickly with empty TwiML; the signature is checked against the public URL the webhook
was configured with (`UTALK_PUBLIC_BASE_URL` + path + query), never the URL this function sees.
The adapter verifies and normalises; the channel-agnostic services store.
"""
import flask

from utalk import http
from utalk.channels import twilio_whatsapp
from utalk.config import settings
from utalk.services import inbound as inbound_service
from utalk.services import status_callbacks

FORM = "application/x-www-form-urlencoded"
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def public_url(request: flask.Request) -> str:
    query = request.query_string.decode("latin-1")
    return settings().public_base_url + request.path + (f"?{query}" if query else "")


def _ok() -> flask.Response:
    return flask.Response(TWIML_EMPTY, status=200, mimetype="text/xml")


@http.endpoint("twilio_inbound", auth=False, request=FORM, response={200: "text/xml"}, raises=(400, 403, 404, 422))
def inbound(call: http.Call):
    req = call.request
    inbound_service.store(*twilio_whatsapp.inbound(req.form, public_url(req), req.headers.get("X-Twilio-Signature")))
    return _ok()


@http.endpoint("twilio_status", auth=False, request=FORM, response={200: "text/xml"}, raises=(400, 403, 404, 422))
def status(call: http.Call):
    req = call.request
    status_callbacks.apply(twilio_whatsapp.status_update(req.args, req.form, public_url(req),
                                                         req.headers.get("X-Twilio-Signature")))
    return _ok()
