"""Twilio signature checks: our fast path accepts and refuses exactly what the library's validator does."""
import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import ImmutableMultiDict

from utalk.channels.twilio_whatsapp import validate_signature

TOKEN = "12345678901234567890123456789012"
URL = "https://hooks.example.com/webhooks/twilio/inbound?tenant=a"
FORM = ImmutableMultiDict([("MessageSid", "SM1"), ("Body", "hola"), ("From", "whatsapp:+1555"),
                           ("MediaUrl0", "https://x/1"), ("Tag", "b"), ("Tag", "a")])  # a repeated name


def signed(url: str, form=FORM, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


@pytest.mark.parametrize("signed_url, ok", [
    (URL, True),
    ("https://hooks.example.com:443/webhooks/twilio/inbound?tenant=a", True),  # Twilio signed with the port
    ("https://hooks.example.com/webhooks/twilio/inbound?tenant=b", False),
    ("https://hooks.example.com/webhooks/twilio/status?tenant=a", False),
])
def test_the_urls_the_library_accepts(signed_url, ok):
    signature = signed(signed_url)
    assert validate_signature(TOKEN, URL, FORM, signature) is ok
    assert RequestValidator(TOKEN).validate(URL, FORM, signature) is ok


def test_every_value_of_a_repeated_parameter_is_signed():
    one_tag = ImmutableMultiDict([(k, v) for k, v in FORM.items(multi=True) if (k, v) != ("Tag", "a")])
    assert validate_signature(TOKEN, URL, FORM, signed(URL))
    assert not validate_signature(TOKEN, URL, one_tag, signed(URL))
    assert not validate_signature(TOKEN, URL, FORM, signed(URL, one_tag))


@pytest.mark.parametrize("signature", [None, "", "bm9wZQ==", "ñandú", signed(URL, token="x" * 32)])
def test_missing_forged_or_foreign_signatures_are_refused(signature):
    assert validate_signature(TOKEN, URL, FORM, signature) is False


def test_a_plain_dict_form_still_works():
    form = {"MessageSid": "SM1", "Body": "hola"}
    assert validate_signature(TOKEN, URL, form, RequestValidator(TOKEN).compute_signature(URL, form))
