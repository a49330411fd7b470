"""An inbound message's realtime events are built as their models' JSON directly (services/inbound.py):
they must be exactly what the models give, for every kind of message every channel stores."""
import datetime
import json
import uuid

import pytest

from utalk import events, pubsub
from utalk.channels.base import InboundItem
from utalk.models.common import iso_utc
from utalk.models.conversations import Customer, LastMessage
from utalk.models.events import ConversationNew, ConversationUpdated, MessageNew
from utalk.models.messages import Message
from utalk.services import inbound

NOW = datetime.datetime(2026, 12, 4, 10, 30, 15, 123456, tzinfo=datetime.timezone.utc)
AT = datetime.datetime(2026, 12, 4, 10, 30, 14, 999000, tzinfo=datetime.timezone.utc)


def _item(**kw) -> InboundItem:
    base = dict(provider="twilio", provider_message_id="SM1", customer="+5215512345678", business="+15550001111",
                conversation_id="conv_+5215512345678_+15550001111", text="hola")
    return InboundItem(**{**base, **kw})


ITEMS = {
    "text": _item(),
    "empty text": _item(text=""),
    "no text": _item(text=None),
    "long text": _item(text="ñ" * 5000),
    "location": _item(text=None, location={"latitude": 19.4326, "longitude": -99, "label": "Zócalo", "address": "x"}),
    "location without label": _item(location={"latitude": 1, "longitude": 2.5}),
    "reply and profile": _item(reply_to="SM0", profile={"name": "Ana"}, metadata={"profileName": "Ana", "n": [1, 2.5]}),
    "messenger echo": _item(provider="messenger", provider_message_id="m_1", customer="fb:1", business="fb:2",
                            conversation_id="conv_fb:1_fb:2", outbound=True, sent_at=AT),
    "echo, naive time": _item(outbound=True, sent_at=datetime.datetime(2026, 1, 2, 3, 4, 5, 678901)),
    "postback": _item(metadata={"postback": {"payload": "HUMAN", "title": "Hablar con alguien"}, "quickReply": None}),
    # what store() adds once media is stored
    "media": _item(text=None, metadata={"mediaIds": ["media_1", "media_2"], "mediaErrors": [{"url": "u", "code": "x"}]}),
}
# Values only the model knows how to show: the model's path is taken, with the same result.
ODD = {
    "tuple in metadata": _item(metadata={"pair": (1, 2)}),
    "datetime in metadata": _item(metadata={"at": AT}),
    "nan in metadata": _item(metadata={"x": float("nan")}),
    "int keys": _item(metadata={1: "one"}),
    "bool latitude": _item(location={"latitude": True, "longitude": 2.0}),
}


def _message(item: InboundItem, media: str | None = None) -> dict:
    msg_id = inbound.message_id(item.provider, item.provider_message_id)
    message = inbound._message(item, "ws_1", item.conversation_id, msg_id, "whatsapp", AT)
    if media:
        message["mediaId"], message["type"] = media, "image"
    return message


def _model_events(ws: str, conv_id: str, message: dict, opened=None) -> list[dict]:
    """What the announcement carried when every payload went through its model (the reference)."""
    shown = Message.model_validate({**message, "createdAt": NOW, "updatedAt": NOW})

    def envelope(name, payload):
        return {**events.envelope(name, ws, payload, f"evt_{uuid.uuid5(inbound.NAMESPACE, message['id'] + ':' + name)}"),
                "occurredAt": iso_utc(NOW)}
    carried = [envelope("message:new", MessageNew(conversationId=conv_id, message=shown)),
               envelope("conversation:updated", ConversationUpdated(
                   conversationId=conv_id, reason="message", unreadDelta=1 if message["direction"] == "inbound" else None,
                   lastMessage=LastMessage(text=shown.text and shown.text[:inbound.PREVIEW], direction=shown.direction,
                                           type=shown.type, at=NOW)))]
    if opened is not None:
        carried.insert(0, envelope("conversation:new", opened))
    return carried


@pytest.fixture
def announced(monkeypatch):
    monkeypatch.setattr(inbound, "utcnow", lambda: NOW)
    monkeypatch.setattr(inbound.pubsub, "send", lambda topic, messages: (topic, messages))

    def run(message: dict, opened=None) -> list[dict]:
        topic, messages = inbound._announce("ws_1", message["conversationId"], message, opened)
        if topic == events.TOPIC:
            return [json.loads(m.data) for m in messages]
        [carrier] = messages
        return json.loads(carrier.data)["events"]
    return run


@pytest.mark.parametrize("name", list(ITEMS) + list(ODD))
def test_the_events_are_the_models(announced, name):
    message = _message({**ITEMS, **ODD}[name])
    assert announced(message) == json.loads(json.dumps(_model_events("ws_1", message["conversationId"], message),
                                                       default=str))


def test_a_stored_media_message_and_an_opened_conversation(announced):
    message = _message(ITEMS["media"], media="media_1")
    opened = ConversationNew(conversationId=message["conversationId"], channel="whatsapp", channelId="ch_1",
                             customer=Customer(address="+5215512345678", name="Ana"))
    ours = announced(message, opened)
    assert [e["event"] for e in ours] == ["conversation:new", "message:new", "conversation:updated"]
    assert ours == json.loads(json.dumps(_model_events("ws_1", message["conversationId"], message, opened), default=str))


@pytest.mark.parametrize("name", list(ITEMS))
def test_plain_messages_take_the_direct_path(name):
    assert inbound._shown(_message(ITEMS[name]), iso_utc(NOW)) is not None


@pytest.mark.parametrize("name", list(ODD))
def test_odd_values_take_the_models_path(name):
    assert inbound._shown(_message(ODD[name]), iso_utc(NOW)) is None


def test_the_direct_fields_are_still_the_models():
    """A field added to Message or ConversationUpdated must be added here too (this fails first)."""
    shown = inbound._shown(_message(ITEMS["text"]), iso_utc(NOW))
    assert list(shown) == list(Message.model_fields)
    assert set(inbound._UPDATED) == set(ConversationUpdated.model_fields)
    assert set(inbound._UPDATED) >= {"conversationId", "reason", "unreadDelta", "lastMessage"}


def test_pubsub_carries_what_it_is_given():
    """The carrier's JSON is the events as built (the relay emits them as they are)."""
    evts = [events.dumped("message:new", "ws_1", {"conversationId": "c", "message": {"id": "m"}}, "evt_1", "t")]
    carrier = events.carrying({"workspaceId": "ws_1"}, evts, {"workspaceId": "ws_1", "audience": "conversation"})
    assert json.loads(carrier.data)["events"] == evts
    assert isinstance(carrier, type(pubsub.message({})))
