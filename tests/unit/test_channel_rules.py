"""Each channel type's outbound rules (`channels/rules.py`): windows, the Messenger tag, limits."""
from datetime import datetime, timedelta, timezone

import pytest

from utalk import errors
from utalk.channels.rules import rules_for


def conversation(hours_ago: float | None) -> dict:
    at = None if hours_ago is None else datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return {"lastInboundAt": at}


def check(channel: str, hours_ago, sender_type="agent", tag=True, **content):
    content = {"text": "hola", "media": False, "location": False, "template": False, **content}
    return rules_for(channel).check(conversation(hours_ago), sender_type=sender_type, human_agent_tag=lambda: tag,
                                    **content)


def test_messenger_window_response_then_human_agent_tag_then_closed():
    assert check("facebook", 23) == {"messagingType": "RESPONSE"}
    assert check("facebook", 23, sender_type="bot") == {"messagingType": "RESPONSE"}
    assert check("facebook", 30) == {"messagingType": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    for closed in (dict(hours_ago=30, tag=False), dict(hours_ago=30, sender_type="bot"), dict(hours_ago=24 * 7 + 1),
                   dict(hours_ago=None)):
        with pytest.raises(errors.Conflict) as refused:
            check("facebook", **closed)
        assert refused.value.code == "window_closed"


def test_the_tag_setting_is_read_only_outside_the_24_hours():
    asked = []
    rules_for("facebook").check(conversation(1), sender_type="agent", text="x", media=False, location=False,
                                template=False, human_agent_tag=lambda: asked.append(1) or True)
    assert asked == []


def test_messenger_content_rules():
    for content, code in ((dict(text="x" * 2001), "text_too_long"), (dict(location=True, text=None), "unsupported_content"),
                          (dict(template=True), "unsupported_content"), (dict(media=True), "text_with_media")):
        with pytest.raises(errors.ValidationFailed) as refused:
            check("facebook", 1, **content)
        assert refused.value.code == code
    assert check("facebook", 1, text="x" * 2000) == {"messagingType": "RESPONSE"}
    assert check("facebook", 1, text=None, media=True) == {"messagingType": "RESPONSE"}


def test_whatsapp_window_unless_template():
    assert check("whatsapp", 23) == {}
    assert check("whatsapp", 30, template=True) == {}
    with pytest.raises(errors.Conflict) as refused:
        check("whatsapp", 30)
    assert refused.value.code == "whatsapp_window_closed"


def test_bot_texts_are_fitted_to_the_channel():
    fitted = rules_for("facebook").fit("palabra " * 400)
    assert len(fitted) == 2000 and fitted.endswith("…")
    assert rules_for("facebook").fit("corto") == "corto"
    assert len(rules_for("whatsapp").fit("x" * 5000)) == 4096
    with pytest.raises(ValueError):
        rules_for("carrier-pigeon")
